import { SimDeployment, Status, WorkOwner, workOwner } from '@simdeploy/domain';
import { DeploymentCommandHandler } from '@simdeploy/event-store';
import { CommandBus, CommandKind } from '@simdeploy/messaging';
import { Logger } from '@nestjs/common';
import { DeploymentsReadModel } from '../deployments-read-model';
import { Clock } from '../settings';
import { PeriodicJob } from './periodic-jobs';

export interface ReconcilerOptions {
  /**
   * How long a deployment must have been unchanged before its missing command counts as
   * lost: the gateway appends first and publishes right after. Default 5 000 ms.
   */
  graceMs?: number;
  /** Default 5 000 ms. */
  intervalMs?: number;
}

export interface ReconcileReport {
  checked: number;
  /** Deployments whose command was sent again, as `id:kind`. */
  resent: string[];
}

const KIND_OF: Record<WorkOwner, CommandKind> = {
  launcher: CommandKind.Launch,
  terminator: CommandKind.Terminate,
  'error-handler': CommandKind.HandleFailure,
};

/** The command that should be queued for a deployment now, if any. */
export function expectedCommand(state: SimDeployment): CommandKind | null {
  const owner = workOwner(state);
  if (owner) return KIND_OF[owner];
  // A maximum duration is watched by the launcher's command staying queued until it is due.
  if (state.status === Status.Running && state.errorStatus === null && state.spec.maxDurationSeconds) return CommandKind.Launch;
  return null;
}

/**
 * Finds deployments that should be moving but have no command queued or in flight (one
 * lost between the gateway's append and its publish, or lost any other way) and sends it
 * again. The message id names the deployment's last change, so reconcilers that overlap, or
 * passes that repeat before the command is handled, store it once.
 */
export class Reconciler implements PeriodicJob {
  readonly name = 'reconciler';
  readonly intervalMs: number;
  private readonly graceMs: number;
  private readonly logger = new Logger(Reconciler.name);

  constructor(
    private readonly deployments: DeploymentsReadModel,
    private readonly handler: DeploymentCommandHandler,
    private readonly bus: CommandBus,
    private readonly clock: Clock,
    options: ReconcilerOptions = {},
  ) {
    this.graceMs = options.graceMs ?? 5_000;
    this.intervalMs = options.intervalMs ?? 5_000;
  }

  async runOnce(): Promise<ReconcileReport> {
    const { items } = this.deployments.list({ status: '!Terminated,Rejected', limit: Number.MAX_SAFE_INTEGER, offset: 0 });
    const resent: string[] = [];
    for (const seen of items) {
      if (!this.isStill(seen)) continue;
      const kind = await this.resendIfLost(seen.id);
      if (kind) resent.push(`${seen.id}:${kind}`);
    }
    if (resent.length > 0) this.logger.warn(`re-sent lost commands: ${resent.join(', ')}`);
    return { checked: items.length, resent };
  }

  private isStill(state: SimDeployment): boolean {
    return expectedCommand(state) !== null && this.clock.now().getTime() - Date.parse(state.updatedAt) >= this.graceMs;
  }

  private async resendIfLost(id: string): Promise<CommandKind | null> {
    // The read model may lag; the stream itself says what is due now.
    const { state } = await this.handler.load(id);
    if (state === null || !this.isStill(state)) return null;
    const kind = expectedCommand(state);
    if (kind === null || (await this.bus.hasPending(kind, id))) return null;
    await this.bus.send(
      { deploymentId: id, kind, issuedAt: this.clock.now().toISOString(), reason: 'reconciler' },
      { messageId: `${id}:${kind}:reconcile:${state.updatedAt}` },
    );
    return kind;
  }
}
