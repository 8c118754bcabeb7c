import { EventStore, EventSubscription, Position, RecordedEvent, comparePositions } from '@simdeploy/event-store';
import { BatchResult, CheckpointMovedError, applyBatch } from './projection';
import { ProjectorLock, ReadModel } from './read-model';

export interface ProjectorLogger {
  log(message: string): void;
  warn(message: string): void;
  error(message: string): void;
}

export interface ProjectorOptions {
  /** Most events per transaction. Default 1000. */
  batchSize?: number;
  /** How long a batch waits for more events before it commits what it has. Default 5 ms. */
  batchWaitMs?: number;
  /** How often a standby asks for the projector lock. Default 2000 ms. */
  standbyPollMs?: number;
  /** Pause after a failure before trying again. Default 1000 ms. */
  retryMs?: number;
  logger?: ProjectorLogger;
  /** Runs inside each batch's transaction once its rows and checkpoint are written, before the commit (tests crash here). */
  inBatch?: (events: readonly RecordedEvent[]) => Promise<void>;
}

const TIMED_OUT = Symbol('timed out');

/**
 * Groups a feed into batches: up to `size` events, or what arrived until `waitMs` after the
 * first one. A pending read carries over to the next batch, so nothing is lost or reordered.
 * With `idleMs`, a feed quiet that long yields an empty batch, for a caller that must notice
 * it has read everything there is (a live feed never ends by itself).
 */
export async function* batches<T>(feed: AsyncIterable<T>, size: number, waitMs: number, idleMs?: number): AsyncGenerator<T[]> {
  const iterator = feed[Symbol.asyncIterator]();
  let pending: Promise<IteratorResult<T>> | null = null;
  for (;;) {
    pending ??= iterator.next();
    let first: IteratorResult<T> | typeof TIMED_OUT;
    if (idleMs === undefined) {
      first = await pending;
    } else {
      let idleTimer: NodeJS.Timeout | undefined;
      const idle = new Promise<typeof TIMED_OUT>((resolve) => (idleTimer = setTimeout(() => resolve(TIMED_OUT), idleMs)));
      first = await Promise.race([pending, idle]);
      clearTimeout(idleTimer);
      if (first === TIMED_OUT) {
        yield [];
        continue;
      }
    }
    pending = null;
    if (first.done) return;
    const batch = [first.value];
    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<typeof TIMED_OUT>((resolve) => (timer = setTimeout(() => resolve(TIMED_OUT), waitMs)));
    try {
      while (batch.length < size) {
        pending ??= iterator.next();
        const next: IteratorResult<T> | typeof TIMED_OUT = await Promise.race([pending, deadline]);
        if (next === TIMED_OUT) break;
        pending = null;
        if (next.done) {
          yield batch;
          return;
        }
        batch.push(next.value);
      }
    } finally {
      clearTimeout(timer);
    }
    yield batch;
  }
}

/**
 * Follows the store-wide feed from the read model's checkpoint and folds it in, one
 * transaction per batch with the checkpoint inside it: a crash at any instruction leaves the
 * last committed batch, and the feed resumes right after it. Where several processes share a
 * read model (PostgreSQL), only the holder of the projector lock projects; the others stand by.
 */
export class Projector {
  private running = false;
  private loop: Promise<void> | null = null;
  private subscription: EventSubscription | null = null;
  private wake: (() => void) | null = null;
  private committed: Position | null = null;
  private holding = false;
  private readonly listeners = new Set<(position: Position) => void>();
  private readonly batchSize: number;
  private readonly batchWaitMs: number;

  constructor(
    private readonly store: EventStore,
    private readonly readModel: ReadModel,
    private readonly options: ProjectorOptions = {},
  ) {
    this.batchSize = options.batchSize ?? 1000;
    this.batchWaitMs = options.batchWaitMs ?? 5;
  }

  /** Whether this process holds the projector lock now. */
  get active(): boolean {
    return this.holding;
  }

  /** The last checkpoint this projector committed (or found), null before the first. */
  get checkpoint(): Position | null {
    return this.committed;
  }

  /** Called after each commit with the new checkpoint; returns an unsubscribe function. */
  onCommit(listener: (position: Position) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.wake?.();
    await this.subscription?.close();
    await this.loop;
    this.loop = null;
  }

  private async run(): Promise<void> {
    while (this.running) {
      let lock: ProjectorLock | null = null;
      let pauseMs = 0;
      try {
        lock = await this.readModel.tryLockProjector();
        if (!lock) {
          pauseMs = this.options.standbyPollMs ?? 2000;
        } else {
          this.holding = true;
          await this.follow(lock);
        }
      } catch (error) {
        if (!this.running) break;
        if (error instanceof CheckpointMovedError) {
          this.options.logger?.warn(`${error.message}; resuming from there`);
        } else {
          this.options.logger?.error(`projection failed, retrying: ${error instanceof Error ? error.message : String(error)}`);
          pauseMs = this.options.retryMs ?? 1000;
        }
      } finally {
        if (lock) {
          this.holding = false;
          await lock.release();
        }
      }
      if (pauseMs > 0) await this.pause(pauseMs);
    }
    this.holding = false;
  }

  private async follow(lock: ProjectorLock): Promise<void> {
    let checkpoint = await this.readModel.checkpoint();
    if (checkpoint !== null) this.publish(checkpoint);
    const subscription = this.store.subscribeToAll({ from: checkpoint === null ? 'start' : { after: checkpoint } });
    this.subscription = subscription;
    try {
      if (!this.running) return;
      for await (const batch of batches(subscription, this.batchSize, this.batchWaitMs)) {
        if (!lock.held) throw new Error('the projector lock was lost with its connection');
        const expected = checkpoint;
        const result: BatchResult = await this.readModel.transaction(async (tx) => {
          const applied = await applyBatch(tx, batch, expected);
          await this.options.inBatch?.(batch);
          return applied;
        });
        checkpoint = result.checkpoint;
        if (checkpoint !== null) this.publish(checkpoint);
        if (!this.running) return;
      }
    } finally {
      this.subscription = null;
      await subscription.close();
    }
  }

  private publish(position: Position): void {
    if (this.committed !== null && comparePositions(position, this.committed) <= 0) return;
    this.committed = position;
    for (const listener of this.listeners) listener(position);
  }

  private pause(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.wake = done;
    });
  }
}
