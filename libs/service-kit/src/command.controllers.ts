import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CommandKind, DeploymentCommandMessage } from '@simdeploy/messaging';
import { CleanupWorkflow } from '../cleanup.workflow';
import { LaunchWorkflow } from '../launch.workflow';
import { StepOutcome } from '../step-outcome';

/** The launcher's handler: launch commands run the launch workflow. */
@Controller()
export class LaunchController {
  constructor(private readonly workflow: LaunchWorkflow) {}

  @EventPattern(CommandKind.Launch)
  launch(@Payload() message: DeploymentCommandMessage): Promise<StepOutcome> {
    return this.workflow.run(message.deploymentId);
  }
}

/** The terminator's handler: terminate commands run the cleanup workflow. */
@Controller()
export class TerminateController {
  constructor(private readonly workflow: CleanupWorkflow) {}

  @EventPattern(CommandKind.Terminate)
  terminate(@Payload() message: DeploymentCommandMessage): Promise<StepOutcome> {
    return this.workflow.run(message.deploymentId);
  }
}

/** The error handler's handler: rolls back failed launches and finishes failed terminations. */
@Controller()
export class FailureController {
  constructor(private readonly workflow: CleanupWorkflow) {}

  @EventPattern(CommandKind.HandleFailure)
  handleFailure(@Payload() message: DeploymentCommandMessage): Promise<StepOutcome> {
    return this.workflow.run(message.deploymentId);
  }
}
