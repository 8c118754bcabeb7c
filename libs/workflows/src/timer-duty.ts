import { CommandBus, JetStreamCommandScheduler, timerMessageId, type ActiveTimers, type CommandKind, type Timer } from '@simdeploy/messaging';
import { parseTraceparent, timerMetrics, timersWaitingGauge, withContext } from '@simdeploy/telemetry';
import { ProviderRegistry } from './providers';
import { ReadinessWatcher } from './readiness-watcher';
import { Clock, LifecycleSettings } from './settings';

/**
 * What the replica leading a command kind does for it: fires the kind's timers on time and,
 * for the launcher, watches readiness waits in batch to end them early.
 */
export class TimerDuty {
  private active?: ActiveTimers;
  private watcher?: ReadinessWatcher;
  private unregisterGauge?: () => void;

  constructor(
    private readonly kind: CommandKind,
    private readonly scheduler: JetStreamCommandScheduler,
    private readonly bus: CommandBus,
    private readonly clock: Clock,
    private readonly watch?: { registry: ProviderRegistry; settings: LifecycleSettings },
  ) {}

  get timers(): ActiveTimers | undefined {
    return this.active;
  }

  get readinessWatcher(): ReadinessWatcher | undefined {
    return this.watcher;
  }

  start(): void {
    if (this.active) return;
    const active = this.scheduler.run(this.kind, (timer) => this.fire(timer));
    this.active = active;
    this.unregisterGauge = timersWaitingGauge.add(() => [{ labels: { kind: this.kind }, value: active.wheel.size }]);
    if (this.watch) {
      const { registry, settings } = this.watch;
      this.watcher = new ReadinessWatcher(registry, this.active.wheel, settings.pollIntervalMs, settings.retry.callTimeoutMs, settings.healthPollMs);
      this.watcher.start();
    }
  }

  async stop(): Promise<void> {
    this.unregisterGauge?.();
    this.unregisterGauge = undefined;
    await this.watcher?.stop();
    await this.active?.stop();
    this.watcher = undefined;
    this.active = undefined;
  }

  /** Sends the timer's command in the trace of the work that decided to wait. */
  private async fire(timer: Timer): Promise<void> {
    const { deploymentId, kind, correlationId } = timer;
    await withContext({ deploymentId, commandKind: kind, correlationId, trace: parseTraceparent(timer.traceparent) ?? undefined }, () =>
      this.bus.send(
        { deploymentId, kind, issuedAt: this.clock.now().toISOString(), reason: 'timer', ...(correlationId ? { correlationId } : {}) },
        { messageId: timerMessageId(timer) },
      ),
    );
    timerMetrics.fired.inc({ kind });
  }
}
