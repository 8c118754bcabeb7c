import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CleanupWorkflow, StepOutcome } from '@simdeploy/lifecycle';
import { CommandKind, DeploymentCommandMessage } from '@simdeploy/messaging';

/** Rolls back failed launches and finishes failed terminations, from the last valid status. */
@Controller()
export class FailureController {
  constructor(private readonly workflow: CleanupWorkflow) {}

  @EventPattern(CommandKind.HandleFailure)
  handleFailure(@Payload() message: DeploymentCommandMessage): Promise<StepOutcome> {
    return this.workflow.run(message.deploymentId);
  }
}
