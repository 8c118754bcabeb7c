import { Logger } from '@nestjs/common';
import type { SimDeployment } from '@simdeploy/domain';
import { CommandBus, CommandScheduler, type CommandKind } from '@simdeploy/messaging';
import { recoveryMetrics } from '@simdeploy/telemetry';
import { DeploymentCommandHandler } from '../command-handler';
import { Dispatcher, dueCommand } from '../dispatcher';
import { Clock } from '../settings';
import type { PeriodicJob } from './periodic-jobs';

export interface ReconcilerOptions {
  /**
   * How long a deployment must have been unchanged before its missing command counts as
   * lost: whoever appends sends right after. Default 5 000 ms.
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

/** Where the reconciler finds the deployments that may still have work due: every one not yet final. */
export type ActiveDeployments = () => Promise<readonly SimDeployment[]>;

/**
 * Finds deployments that have work due but no command queued or in flight and no timer
 * waiting (a send lost between an append and its publish, a timer lost with its store), and
 * sends the command again through the dispatcher: same function, same message id as the
 * lost send, so a send that was not lost after all is stored once.
 */
export class Reconciler implements PeriodicJob {
  readonly name = 'reconciler';
  readonly intervalMs: number;
  private readonly graceMs: number;
  private readonly logger = new Logger(Reconciler.name);

  constructor(
    private readonly deployments: ActiveDeployments,
    private readonly handler: DeploymentCommandHandler,
    private readonly dispatcher: Dispatcher,
    private readonly bus: CommandBus,
    private readonly scheduler: CommandScheduler,
    private readonly clock: Clock,
    options: ReconcilerOptions = {},
  ) {
    this.graceMs = options.graceMs ?? 5_000;
    this.intervalMs = options.intervalMs ?? 5_000;
  }

  async runOnce(): Promise<ReconcileReport> {
    try {
      const report = await this.pass();
      recoveryMetrics.reconcilerRuns.inc({ outcome: 'ok' });
      return report;
    } catch (error) {
      recoveryMetrics.reconcilerRuns.inc({ outcome: 'error' });
      throw error;
    }
  }

  private async pass(): Promise<ReconcileReport> {
    const items = await this.deployments();
    const resent: string[] = [];
    for (const seen of items) {
      if (this.dueAndStill(seen) === null) continue;
      const kind = await this.resendIfLost(seen.id);
      if (kind) {
        resent.push(`${seen.id}:${kind}`);
        recoveryMetrics.reconcilerResent.inc({ kind });
      }
    }
    if (resent.length > 0) this.logger.warn(`re-sent lost commands: ${resent.join(', ')}`);
    return { checked: items.length, resent };
  }

  /** The kind due, if the deployment has been unchanged for the grace period. */
  private dueAndStill(state: SimDeployment): CommandKind | null {
    const now = this.clock.now().getTime();
    if (now - Date.parse(state.updatedAt) < this.graceMs) return null;
    return dueCommand(state, now);
  }

  private async resendIfLost(id: string): Promise<CommandKind | null> {
    // The list may lag; the stream itself says what is due now.
    const { state, revision } = await this.handler.load(id);
    if (state === null) return null;
    const kind = this.dueAndStill(state);
    if (kind === null || (await this.bus.hasPending(kind, id))) return null;
    const timer = await this.scheduler.timerOf(kind, id);
    // A timer long past its time was lost by whoever should have fired it.
    if (timer && Date.parse(timer.dueAt) + this.graceMs > this.clock.now().getTime()) return null;
    return this.dispatcher.dispatch(state, revision, { reason: 'reconciler' });
  }
}
