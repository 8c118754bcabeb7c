import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { LaunchWorkflow, StepOutcome } from '@simdeploy/lifecycle';
import { CommandKind, DeploymentCommandMessage } from '@simdeploy/messaging';

@Controller()
export class LaunchController {
  constructor(private readonly workflow: LaunchWorkflow) {}

  @EventPattern(CommandKind.Launch)
  launch(@Payload() message: DeploymentCommandMessage): Promise<StepOutcome> {
    return this.workflow.run(message.deploymentId);
  }
}
