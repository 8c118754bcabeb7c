import type { CommandKind } from './contracts';

/**
 * A command to send later: how a wait (machines booting, pods starting, a maximum duration,
 * a deletion in progress) is kept without holding a message or a worker. A deployment has at
 * most one timer per kind; a newer one replaces it.
 */
export interface Timer {
  deploymentId: string;
  kind: CommandKind;
  /** The stream revision the wait was decided on; the command it fires is named after it. */
  revision: string;
  /** When to send the command (ISO-8601). */
  dueAt: string;
  /** What a watcher may check in batch to send it before its time; opaque to the scheduler. */
  watch?: TimerWatch;
  /** The trace of the work that decided to wait, continued by the command the timer sends. */
  traceparent?: string;
  /** The request the wait belongs to. */
  correlationId?: string;
}

export interface TimerWatch {
  type: string;
  [key: string]: unknown;
}

/** The sending side: workers schedule, the reconciler asks. Inject it by this class. */
export abstract class CommandScheduler {
  /** Records the timer (replacing the deployment's earlier one of that kind). */
  abstract schedule(timer: Timer): Promise<void>;
  /** The deployment's timer of this kind, if one is waiting. */
  abstract timerOf(kind: CommandKind, deploymentId: string): Promise<Timer | null>;
  /** Drops the deployment's timer of this kind: whatever it waited for is another service's business now. */
  abstract cancel(kind: CommandKind, deploymentId: string): Promise<void>;
}

/** The message id of the command a timer sends: the same timer fired twice is stored once. */
export const timerMessageId = (timer: Timer): string =>
  `${timer.deploymentId}:${timer.kind}:${timer.revision}:t${Date.parse(timer.dueAt)}`;

type Entry<Ref> = { timer: Timer; ref: Ref; dueMs: number };

/** Longest delay setTimeout takes without firing at once. */
const MAX_DELAY_MS = 2 ** 31 - 1;
/** Due timers fired at once; the rest wait for a free slot. */
const FIRE_CONCURRENCY = 32;
const RETRY_FAILED_FIRE_MS = 1_000;

/**
 * The timers of one kind held in memory by the replica that fires them: a min-heap on due
 * time, one setTimeout for the earliest, nothing per timer. `ref` identifies the stored
 * version of a timer (its stream sequence), so a fired timer is removed only if no newer
 * one replaced it meanwhile.
 */
export class TimerWheel<Ref = unknown> {
  private readonly entries = new Map<string, Entry<Ref>>();
  private readonly heap: Entry<Ref>[] = [];
  private handle?: NodeJS.Timeout;
  private handleAt = Number.POSITIVE_INFINITY;
  private stopped = false;
  private firing = 0;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly fire: (timer: Timer, ref: Ref) => Promise<void>,
    private readonly clock: () => number = Date.now,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  upsert(timer: Timer, ref: Ref): void {
    const entry: Entry<Ref> = { timer, ref, dueMs: Date.parse(timer.dueAt) };
    this.entries.set(timer.deploymentId, entry);
    this.push(entry);
    this.arm();
  }

  /** Forgets the deployment's timer, if it is still this version. */
  remove(deploymentId: string, ref?: Ref): void {
    const entry = this.entries.get(deploymentId);
    if (entry && (ref === undefined || entry.ref === ref)) this.entries.delete(deploymentId);
  }

  get(deploymentId: string): Timer | undefined {
    return this.entries.get(deploymentId)?.timer;
  }

  /** Timers a watcher may end early. */
  watched(): Timer[] {
    return [...this.entries.values()].filter((e) => e.timer.watch !== undefined).map((e) => e.timer);
  }

  /** Fires these deployments' timers now, before their time (a watcher saw their wait end). */
  fireNow(deploymentIds: readonly string[]): void {
    const now = this.clock();
    for (const id of deploymentIds) {
      const entry = this.entries.get(id);
      if (!entry || entry.dueMs <= now) continue;
      const early = { ...entry, dueMs: now };
      this.entries.set(id, early);
      this.push(early);
    }
    this.arm(true);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.handle) clearTimeout(this.handle);
    await Promise.allSettled([...this.inFlight]);
  }

  private arm(now = false): void {
    if (this.stopped) return;
    const top = this.heap[0];
    if (!top) return;
    const at = now ? this.clock() : top.dueMs;
    if (this.handle && this.handleAt <= at) return;
    if (this.handle) clearTimeout(this.handle);
    this.handleAt = at;
    this.handle = setTimeout(() => this.tick(), Math.min(MAX_DELAY_MS, Math.max(0, at - this.clock())));
  }

  private tick(): void {
    this.handle = undefined;
    this.handleAt = Number.POSITIVE_INFINITY;
    const now = this.clock();
    while (!this.stopped && this.firing < FIRE_CONCURRENCY) {
      const top = this.heap[0];
      if (!top || top.dueMs > now) break;
      this.pop();
      // A heap entry outlives a replaced or removed timer; only the current version fires.
      if (this.entries.get(top.timer.deploymentId) !== top) continue;
      this.entries.delete(top.timer.deploymentId);
      this.launch(top);
    }
    if (this.firing < FIRE_CONCURRENCY) this.arm();
  }

  private launch(entry: Entry<Ref>): void {
    this.firing += 1;
    const run = this.fire(entry.timer, entry.ref)
      .catch(() => {
        // Not sent: try again soon, unless a newer timer took its place meanwhile.
        if (!this.entries.has(entry.timer.deploymentId)) {
          const retry = { ...entry, dueMs: this.clock() + RETRY_FAILED_FIRE_MS };
          this.entries.set(entry.timer.deploymentId, retry);
          this.push(retry);
        }
      })
      .finally(() => {
        this.firing -= 1;
        this.inFlight.delete(run);
        this.arm(this.heap[0] !== undefined && this.heap[0].dueMs <= this.clock());
      });
    this.inFlight.add(run);
  }

  private push(entry: Entry<Ref>): void {
    const heap = this.heap;
    heap.push(entry);
    let i = heap.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if ((heap[parent] as Entry<Ref>).dueMs <= entry.dueMs) break;
      heap[i] = heap[parent] as Entry<Ref>;
      i = parent;
    }
    heap[i] = entry;
  }

  private pop(): void {
    const heap = this.heap;
    const last = heap.pop();
    if (!last || heap.length === 0) return;
    let i = 0;
    for (;;) {
      const left = 2 * i + 1;
      if (left >= heap.length) break;
      const right = left + 1;
      const child = right < heap.length && (heap[right] as Entry<Ref>).dueMs < (heap[left] as Entry<Ref>).dueMs ? right : left;
      if ((heap[child] as Entry<Ref>).dueMs >= last.dueMs) break;
      heap[i] = heap[child] as Entry<Ref>;
      i = child;
    }
    heap[i] = last;
  }
}

/** In this process only, for tests of the lifecycle without NATS: fires through `fire`. */
export class InMemoryCommandScheduler extends CommandScheduler {
  readonly wheels = new Map<CommandKind, TimerWheel<number>>();
  private version = 0;

  constructor(private readonly fire: (timer: Timer) => Promise<void>) {
    super();
  }

  async schedule(timer: Timer): Promise<void> {
    this.wheelOf(timer.kind).upsert(timer, ++this.version);
  }

  async timerOf(kind: CommandKind, deploymentId: string): Promise<Timer | null> {
    return this.wheels.get(kind)?.get(deploymentId) ?? null;
  }

  async cancel(kind: CommandKind, deploymentId: string): Promise<void> {
    this.wheels.get(kind)?.remove(deploymentId);
  }

  wheelOf(kind: CommandKind): TimerWheel<number> {
    let wheel = this.wheels.get(kind);
    if (!wheel) {
      wheel = new TimerWheel<number>((timer) => this.fire(timer));
      this.wheels.set(kind, wheel);
    }
    return wheel;
  }

  async stop(): Promise<void> {
    await Promise.all([...this.wheels.values()].map((w) => w.stop()));
  }
}
