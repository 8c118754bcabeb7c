import { EventStore, Position, comparePositions } from '@simdeploy/event-store';
import type { Projector } from './projector';
import type { ReadModel } from './read-model';

/**
 * Whether a projection at `checkpoint` holds every event up to `head`. A head may lie past the
 * last event (JetStream names the highest position its last message could hold), so when the
 * checkpoint is short of it the store is asked what comes next: nothing, or something past
 * the head, means everything up to the head is in.
 */
export async function reachedHead(store: EventStore, checkpoint: Position | null, head: Position | null): Promise<boolean> {
  if (head === null) return true;
  if (checkpoint !== null && comparePositions(checkpoint, head) >= 0) return true;
  const [next] = await store.readAll({ from: checkpoint === null ? 'start' : { after: checkpoint }, limit: 1 });
  return next === undefined || comparePositions(next.position, head) > 0;
}

export interface FreshnessOptions {
  /** How often the checkpoint is read while someone waits (another process may be projecting). Default 50 ms. */
  pollMs?: number;
  /** How often, before ready, the store is asked whether anything is left up to the head. Default 250 ms. */
  headCheckMs?: number;
  onError?: (error: unknown) => void;
}

interface Waiter {
  position: Position;
  resolve: (reached: boolean) => void;
  timer: NodeJS.Timeout;
}

/**
 * What a service may answer from the read model. It is ready once the projection has reached
 * the head of the store as of this service's start (never before: a list from a half-built
 * projection would miss simulations), and a caller's own write is visible once the
 * checkpoint passes that write's position.
 */
export class ProjectionFreshness {
  private head: Position | null | undefined;
  private known: Position | null = null;
  private ready = false;
  private running = false;
  private timer: NodeJS.Timeout | null = null;
  private lastHeadCheck = 0;
  private checking = false;
  private readonly readyWaiters = new Set<(ready: boolean) => void>();
  private readonly waiters = new Set<Waiter>();
  private unsubscribe: (() => void) | null = null;
  private readonly pollMs: number;
  private readonly headCheckMs: number;

  constructor(
    private readonly store: EventStore,
    private readonly readModel: ReadModel,
    private readonly projector?: Projector,
    private readonly options: FreshnessOptions = {},
  ) {
    this.pollMs = options.pollMs ?? 50;
    this.headCheckMs = options.headCheckMs ?? 250;
  }

  /** Notes the head of the store now, and starts watching the checkpoint reach it. */
  start(): void {
    if (this.running) return;
    this.running = true;
    this.unsubscribe = this.projector?.onCommit((position) => this.advance(position)) ?? null;
    this.schedule(0);
  }

  stop(): void {
    this.running = false;
    this.unsubscribe?.();
    if (this.timer) clearTimeout(this.timer);
    for (const resolve of this.readyWaiters) resolve(false);
    this.readyWaiters.clear();
    for (const waiter of this.waiters) this.settle(waiter, false);
  }

  isReady(): boolean {
    return this.ready;
  }

  /** The head as of start, once read (for health details). */
  get startHead(): Position | null | undefined {
    return this.head;
  }

  get checkpoint(): Position | null {
    return this.known;
  }

  /** Resolves true once ready, false when `timeoutMs` passes first. */
  whenReady(timeoutMs: number): Promise<boolean> {
    if (this.ready) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = (ready: boolean) => {
        clearTimeout(timer);
        this.readyWaiters.delete(done);
        resolve(ready);
      };
      const timer = setTimeout(() => done(false), timeoutMs);
      this.readyWaiters.add(done);
    });
  }

  /** Resolves true once the projection holds `position`, false when `timeoutMs` passes first. */
  caughtUpTo(position: Position, timeoutMs: number): Promise<boolean> {
    if (this.known !== null && comparePositions(this.known, position) >= 0) return Promise.resolve(true);
    return new Promise((resolve) => {
      const waiter: Waiter = { position, resolve, timer: setTimeout(() => this.settle(waiter, false), timeoutMs) };
      this.waiters.add(waiter);
      this.schedule(0);
    });
  }

  private settle(waiter: Waiter, reached: boolean): void {
    if (!this.waiters.delete(waiter)) return;
    clearTimeout(waiter.timer);
    waiter.resolve(reached);
  }

  private advance(position: Position | null): void {
    if (position === null || (this.known !== null && comparePositions(position, this.known) <= 0)) return;
    this.known = position;
    for (const waiter of this.waiters) if (comparePositions(position, waiter.position) >= 0) this.settle(waiter, true);
    if (!this.ready && this.head !== undefined && (this.head === null || comparePositions(position, this.head) >= 0)) this.becomeReady();
  }

  private becomeReady(): void {
    if (this.ready) return;
    this.ready = true;
    for (const resolve of this.readyWaiters) resolve(true);
    this.readyWaiters.clear();
  }

  private schedule(ms: number): void {
    if (!this.running || this.checking) return;
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.check(), ms);
  }

  private async check(): Promise<void> {
    this.timer = null;
    this.checking = true;
    try {
      if (this.head === undefined) {
        this.head = await this.store.headPosition();
        if (this.head === null) this.becomeReady();
      }
      this.advance(await this.readModel.checkpoint());
      if (!this.ready && Date.now() - this.lastHeadCheck >= this.headCheckMs) {
        this.lastHeadCheck = Date.now();
        const checkpoint = this.known;
        if (await reachedHead(this.store, checkpoint, this.head ?? null)) this.becomeReady();
      }
    } catch (error) {
      // The store or the database is away: readiness stays as it is, and the next look retries.
      this.options.onError?.(error);
    } finally {
      this.checking = false;
    }
    if (!this.ready || this.waiters.size > 0) this.schedule(this.pollMs);
  }
}
