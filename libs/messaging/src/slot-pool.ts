/**
 * Counts handler slots in one process. A fetch takes slots before it asks the
 * server for messages, so a replica never holds more commands than it can run;
 * each slot comes back when its handler settles, or when the fetch ends unused.
 */
export class SlotPool {
  private taken = 0;
  private closed = false;
  private readonly waiters: Array<() => void> = [];

  constructor(readonly size: number) {
    if (!Number.isInteger(size) || size < 1) throw new RangeError(`pool size must be a positive integer, got ${size}`);
  }

  get free(): number {
    return this.size - this.taken;
  }

  /** Waits for at least one free slot and takes up to `max`. Resolves 0 once the pool is closed. */
  async acquire(max: number): Promise<number> {
    while (!this.closed && this.free === 0) {
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
    if (this.closed) return 0;
    const granted = Math.min(this.free, Math.max(1, max));
    this.taken += granted;
    return granted;
  }

  release(count = 1): void {
    if (count <= 0) return;
    this.taken = Math.max(0, this.taken - count);
    this.wakeAll();
  }

  close(): void {
    this.closed = true;
    this.wakeAll();
  }

  private wakeAll(): void {
    // Waiters re-check in FIFO order, so kinds sharing the pool take turns.
    for (const wake of this.waiters.splice(0)) wake();
  }
}
