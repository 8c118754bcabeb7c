import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CleanupWorkflow, StepOutcome } from '@simdeploy/lifecycle';
import { CommandKind, DeploymentCommandMessage } from '@simdeploy/messaging';

@Controller()
export class TerminateController {
  constructor(private readonly workflow: CleanupWorkflow) {}

  @EventPattern(CommandKind.Terminate)
  terminate(@Payload() message: DeploymentCommandMessage): Promise<StepOutcome> {
    return this.workflow.run(message.deploymentId);
  }
}
