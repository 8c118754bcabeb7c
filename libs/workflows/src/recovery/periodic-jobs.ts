import { Logger } from '@nestjs/common';

/** Work the active error handler repeats: reconciling lost commands, sweeping orphans. */
export interface PeriodicJob {
  readonly name: string;
  readonly intervalMs: number;
  runOnce(): Promise<unknown>;
}

/**
 * Runs each job every `intervalMs`, never two runs of one job at once; a run that throws
 * is logged and the job runs again at the next tick. stop() waits for runs in progress.
 */
export class PeriodicJobRunner {
  private readonly logger = new Logger(PeriodicJobRunner.name);
  private readonly timers: NodeJS.Timeout[] = [];
  private readonly running = new Set<Promise<void>>();
  private readonly busy = new Set<PeriodicJob>();

  constructor(private readonly jobs: readonly PeriodicJob[]) {}

  start(): void {
    if (this.timers.length > 0) return;
    for (const job of this.jobs) {
      this.tick(job);
      this.timers.push(setInterval(() => this.tick(job), job.intervalMs));
    }
  }

  async stop(): Promise<void> {
    for (const timer of this.timers.splice(0)) clearInterval(timer);
    await Promise.allSettled([...this.running]);
  }

  private tick(job: PeriodicJob): void {
    if (this.busy.has(job)) return;
    this.busy.add(job);
    const run = job
      .runOnce()
      .then(
        () => undefined,
        (error: unknown) => this.logger.warn(`${job.name} failed, retrying in ${job.intervalMs} ms: ${error instanceof Error ? error.message : String(error)}`),
      )
      .finally(() => {
        this.busy.delete(job);
        this.running.delete(run);
      });
    this.running.add(run);
  }
}
