import { CommandBus, JetStreamCommandScheduler, timerMessageId, type ActiveTimers, type CommandKind, type Timer } from '@simdeploy/messaging';
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
    this.active = this.scheduler.run(this.kind, (timer) => this.fire(timer));
    if (this.watch) {
      const { registry, settings } = this.watch;
      this.watcher = new ReadinessWatcher(registry, this.active.wheel, settings.pollIntervalMs, settings.retry.callTimeoutMs, settings.healthPollMs);
      this.watcher.start();
    }
  }

  async stop(): Promise<void> {
    await this.watcher?.stop();
    await this.active?.stop();
    this.watcher = undefined;
    this.active = undefined;
  }

  private fire(timer: Timer): Promise<void> {
    return this.bus.send(
      { deploymentId: timer.deploymentId, kind: timer.kind, issuedAt: this.clock.now().toISOString(), reason: 'timer' },
      { messageId: timerMessageId(timer) },
    );
  }
}
