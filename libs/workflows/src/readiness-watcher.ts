import { Logger } from '@nestjs/common';
import type { ReadinessByDeployment, ReadinessCheck } from '@simdeploy/cloud';
import type { Timer, TimerWheel } from '@simdeploy/messaging';
import type { ReadinessWatch } from './interpreter';
import { timerMetrics } from '@simdeploy/telemetry';
import { ProviderRegistry } from './providers';

const WATCHED = ['nodes', 'workload', 'health'];
const isReadinessWatch = (watch: Timer['watch']): watch is ReadinessWatch =>
  watch !== undefined && WATCHED.includes(watch.type) && typeof watch['provider'] === 'string';

export interface WatchRound {
  /** Deployments looked at this round. */
  checked: number;
  /** Those whose wait is over (ready, failed, or a new reason to record): woken now. */
  woken: string[];
  /** Provider calls the round made, all deployments together. */
  providerCalls: number;
}

/** Whether a check says something the deployment should act on now. */
const news = (check: ReadinessCheck | undefined, known: string | undefined): boolean =>
  check !== undefined && (check.state !== 'pending' || (check.reason !== undefined && check.reason.code !== known));

/** A wait for machines is over when they are ready or failed. */
const over = (check: ReadinessCheck | undefined): boolean => check !== undefined && check.state !== 'pending';

/** A running simulation needs waking only when a pod failed. */
const failed = (check: ReadinessCheck | undefined): boolean => check?.state === 'failed';

/**
 * Ends readiness waits early without asking per deployment: every `intervalMs`, the
 * deployments whose timers wait for machines or pods are checked in one batched call per
 * provider (so the work per round is a few calls whatever the number waiting), and those
 * whose wait is over are woken by firing their timer now. The timer's own time is the phase
 * deadline, so a deployment the watcher never wakes still times out exactly when it must.
 * A round starts `intervalMs` after the previous one ended: a slow provider slows the rounds
 * down instead of piling them up.
 */
export class ReadinessWatcher {
  private readonly logger = new Logger(ReadinessWatcher.name);
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private lastHealthRound = 0;

  constructor(
    private readonly registry: ProviderRegistry,
    private readonly wheel: Pick<TimerWheel<unknown>, 'watched' | 'fireNow'>,
    private readonly intervalMs: number,
    private readonly callTimeoutMs: number,
    /** Running simulations are checked this often (they rarely change), waits for readiness every round. */
    private readonly healthIntervalMs = intervalMs,
  ) {}

  start(): void {
    this.stopped = false;
    this.schedule();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
  }

  async checkOnce(): Promise<WatchRound> {
    const groups = new Map<string, Timer[]>();
    const healthDue = Date.now() - this.lastHealthRound >= this.healthIntervalMs;
    if (healthDue) this.lastHealthRound = Date.now();
    for (const timer of this.wheel.watched()) {
      if (!isReadinessWatch(timer.watch)) continue;
      if (timer.watch.type === 'health' && !healthDue) continue;
      const key = `${timer.watch.provider}\0${timer.watch.type}`;
      groups.set(key, [...(groups.get(key) ?? []), timer]);
    }
    const round: WatchRound = { checked: 0, woken: [], providerCalls: 0 };
    for (const [key, timers] of groups) {
      const [provider, type] = key.split('\0') as [string, ReadinessWatch['type']];
      round.checked += timers.length;
      try {
        const woken = type === 'nodes' ? await this.nodesRound(provider, timers, round) : await this.workloadRound(provider, timers, round, type === 'health' ? failed : undefined);
        round.woken.push(...woken);
      } catch (error) {
        // The deadlines still hold; the next round asks again.
        this.logger.warn(`checking ${timers.length} ${type} waits on ${provider} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
    }
    if (round.woken.length > 0) this.wheel.fireNow(round.woken);
    return round;
  }

  private async nodesRound(provider: string, timers: Timer[], round: WatchRound): Promise<string[]> {
    const { nodes, pods } = this.registry.get(provider);
    const watches = new Map(timers.map((t) => [t.deploymentId, t.watch as ReadinessWatch]));
    round.providerCalls += 1;
    const up = await nodes.checkNodesBatch(
      timers.map((t) => ({ deploymentId: t.deploymentId, nodes: watches.get(t.deploymentId)?.nodes ?? [] })),
      AbortSignal.timeout(this.callTimeoutMs),
    );
    const ready = timers.filter((t) => up.get(t.deploymentId)?.state === 'ready');
    let joined: ReadinessByDeployment = new Map();
    if (ready.length > 0) {
      round.providerCalls += 1;
      joined = await pods.checkNodesJoinedBatch(
        ready.map((t) => ({ deploymentId: t.deploymentId, nodeNames: (watches.get(t.deploymentId)?.nodes ?? []).map((n) => n.nodeName) })),
        AbortSignal.timeout(this.callTimeoutMs),
      );
    }
    return timers
      .filter((t) => {
        const machines = up.get(t.deploymentId);
        // Machines are woken when they are ready or failed; their reasons only explain a timeout.
        return machines?.state === 'ready' ? over(joined.get(t.deploymentId)) : over(machines);
      })
      .map((t) => t.deploymentId);
  }

  private async workloadRound(
    provider: string,
    timers: Timer[],
    round: WatchRound,
    wake: (check: ReadinessCheck | undefined, known: string | undefined) => boolean = news,
  ): Promise<string[]> {
    const { pods } = this.registry.get(provider);
    round.providerCalls += 1;
    const checks = await pods.checkWorkloadBatch(
      timers.map((t) => ({ deploymentId: t.deploymentId, pods: (t.watch as ReadinessWatch).pods ?? [] })),
      AbortSignal.timeout(this.callTimeoutMs),
    );
    return timers.filter((t) => wake(checks.get(t.deploymentId), (t.watch as ReadinessWatch).known)).map((t) => t.deploymentId);
  }

  private schedule(): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      const stopTimer = timerMetrics.readinessRoundDuration.startTimer();
      this.running = this.checkOnce()
        .then(
          (round) => {
            timerMetrics.readinessRounds.inc({ outcome: 'ok' });
            timerMetrics.readinessChecked.inc(round.checked);
            timerMetrics.readinessWoken.inc(round.woken.length);
          },
          (error: unknown) => {
            timerMetrics.readinessRounds.inc({ outcome: 'error' });
            this.logger.warn(`readiness round failed: ${String(error)}`);
          },
        )
        .finally(stopTimer)
        .finally(() => this.schedule());
    }, this.intervalMs);
  }
}
