import { CommandBus, defaultMessageId, type SendOptions } from './command-bus';
import type { CommandKind, CommandOutcome, DeploymentCommandMessage } from './contracts';

export type InMemoryHandler = (message: DeploymentCommandMessage) => Promise<CommandOutcome>;

/**
 * The command queue in this process's memory, for tests of the lifecycle without NATS: the
 * same deduplication by message id, one queue per kind, handlers run `concurrency` at a time,
 * a command stays pending until its handler settles, `{ retryAfterMs }` and errors requeue it.
 */
export class InMemoryCommandBus extends CommandBus {
  private readonly seen = new Set<string>();
  private readonly queues = new Map<CommandKind, DeploymentCommandMessage[]>();
  private readonly handlers = new Map<CommandKind, InMemoryHandler>();
  private readonly pending = new Map<string, number>();
  private readonly running = new Set<Promise<void>>();
  private readonly idleWaiters = new Set<() => void>();
  private active = 0;
  private stopped = false;
  /** Every message stored, in order (duplicates left out), for assertions. */
  readonly sent: DeploymentCommandMessage[] = [];
  /** Handler runs that ended with an error, for assertions. */
  readonly errors: unknown[] = [];

  constructor(private readonly concurrency = 10) {
    super();
  }

  handle(kind: CommandKind, handler: InMemoryHandler): void {
    this.handlers.set(kind, handler);
    this.pump();
  }

  async send(msg: DeploymentCommandMessage, options: SendOptions = {}): Promise<void> {
    const id = options.messageId ?? defaultMessageId(msg);
    if (this.seen.has(id)) return;
    this.seen.add(id);
    this.sent.push(msg);
    this.enqueue(msg);
  }

  async hasPending(kind: CommandKind, deploymentId: string): Promise<boolean> {
    return (this.pending.get(`${kind}:${deploymentId}`) ?? 0) > 0;
  }

  /** Resolves once no command is queued or running. */
  idle(): Promise<void> {
    if (this.isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.idleWaiters.add(resolve));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await Promise.allSettled([...this.running]);
  }

  private enqueue(msg: DeploymentCommandMessage, delayMs = 0): void {
    const key = `${msg.kind}:${msg.deploymentId}`;
    this.pending.set(key, (this.pending.get(key) ?? 0) + 1);
    const push = () => {
      const queue = this.queues.get(msg.kind) ?? [];
      queue.push(msg);
      this.queues.set(msg.kind, queue);
      this.pump();
    };
    if (delayMs > 0) setTimeout(push, delayMs);
    else push();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.concurrency) {
      const next = this.take();
      if (!next) break;
      const [msg, handler] = next;
      this.active += 1;
      const run = handler(msg)
        .then(
          (outcome) => (outcome && 'retryAfterMs' in outcome ? outcome.retryAfterMs : null),
          (error: unknown) => {
            this.errors.push(error);
            return 50;
          },
        )
        .then((retryAfterMs) => {
          this.settle(msg);
          if (retryAfterMs !== null && !this.stopped) this.enqueue(msg, retryAfterMs);
        })
        .finally(() => {
          this.active -= 1;
          this.running.delete(run);
          this.pump();
          if (this.isIdle()) for (const wake of this.drainWaiters()) wake();
        });
      this.running.add(run);
    }
  }

  private take(): [DeploymentCommandMessage, InMemoryHandler] | undefined {
    for (const [kind, queue] of this.queues) {
      const handler = this.handlers.get(kind);
      if (handler && queue.length > 0) return [queue.shift() as DeploymentCommandMessage, handler];
    }
    return undefined;
  }

  private settle(msg: DeploymentCommandMessage): void {
    const key = `${msg.kind}:${msg.deploymentId}`;
    const left = (this.pending.get(key) ?? 1) - 1;
    if (left <= 0) this.pending.delete(key);
    else this.pending.set(key, left);
  }

  private isIdle(): boolean {
    return this.active === 0 && [...this.queues.entries()].every(([kind, q]) => q.length === 0 || !this.handlers.has(kind));
  }

  private drainWaiters(): (() => void)[] {
    const waiters = [...this.idleWaiters];
    this.idleWaiters.clear();
    return waiters;
  }
}
