import { Controller } from '@nestjs/common';
import { EventPattern, Payload } from '@nestjs/microservices';
import { CommandKind, type CommandOutcome, type DeploymentCommandMessage } from '@simdeploy/messaging';
import { Interpreter } from '@simdeploy/workflows';

/** The launcher's handler: a launch command runs the interpreter for the deployment. */
@Controller()
export class LaunchController {
  constructor(private readonly interpreter: Interpreter) {}

  @EventPattern(CommandKind.Launch)
  launch(@Payload() message: DeploymentCommandMessage): Promise<CommandOutcome> {
    return this.interpreter.run(message.deploymentId, message.correlationId);
  }
}

/** The terminator's handler. */
@Controller()
export class TerminateController {
  constructor(private readonly interpreter: Interpreter) {}

  @EventPattern(CommandKind.Terminate)
  terminate(@Payload() message: DeploymentCommandMessage): Promise<CommandOutcome> {
    return this.interpreter.run(message.deploymentId, message.correlationId);
  }
}

/** The error handler's handler: rolls back failed launches and finishes failed terminations. */
@Controller()
export class FailureController {
  constructor(private readonly interpreter: Interpreter) {}

  @EventPattern(CommandKind.HandleFailure)
  handleFailure(@Payload() message: DeploymentCommandMessage): Promise<CommandOutcome> {
    return this.interpreter.run(message.deploymentId, message.correlationId);
  }
}
