import {
  Actor,
  DomainError,
  FailureSource,
  SimDeployment,
  SimDeploymentCommand,
  Status,
  command,
} from '@simdeploy/domain';
import { DeploymentCommandHandler, HandledCommand } from '@simdeploy/event-store';
import { CommandBus, CommandKind } from '@simdeploy/messaging';
import { Logger } from '@nestjs/common';
import { StepFailedError } from './provider-call';
import { Clock } from './settings';

type DataOf<T extends SimDeploymentCommand['type']> = Extract<SimDeploymentCommand, { type: T }>['data'];

/**
 * What the workers share: issuing domain commands as a service, recording a failed step
 * and handing it to the error handler.
 */
export class DeploymentSteps {
  private readonly logger: Logger;

  constructor(
    readonly handler: DeploymentCommandHandler,
    private readonly bus: CommandBus,
    readonly clock: Clock,
    private readonly actor: Actor,
  ) {
    this.logger = new Logger(actor.subject);
  }

  now(): number {
    return this.clock.now().getTime();
  }

  /** Issues a command; a refusal (the deployment moved on) comes back as the error value. */
  async exec<T extends SimDeploymentCommand['type']>(
    deploymentId: string,
    type: T,
    data: DataOf<T>,
    by: Actor = this.actor,
  ): Promise<HandledCommand | DomainError> {
    const cmd = command(type, data as never, { now: this.clock.now().toISOString(), by });
    const result = await this.handler.handle(deploymentId, cmd, { causationId: this.actor.subject });
    if (result instanceof DomainError) this.logger.debug(`${deploymentId}: ${type} refused: ${result.message}`);
    return result;
  }

  async send(deploymentId: string, kind: CommandKind, reason: string): Promise<void> {
    await this.bus.send({ deploymentId, kind, issuedAt: this.clock.now().toISOString(), reason });
  }

  /** Records the failed step; if that made it the error handler's, tells the error handler. */
  async recordFailure(state: SimDeployment, stage: Status, source: FailureSource, failure: StepFailedError): Promise<void> {
    this.logger.warn(`${state.id}: ${failure.message}`);
    const result = await this.exec(state.id, 'RecordFailure', {
      source,
      stage,
      step: failure.step,
      error: failure.failure.toFailure(),
      attempt: failure.attempts,
    });
    if (result instanceof DomainError) return;
    if (result.events.some((e) => e.type === 'LaunchFailed' || e.type === 'TerminationFailed')) {
      await this.send(state.id, CommandKind.HandleFailure, 'step-failed');
    }
  }
}
