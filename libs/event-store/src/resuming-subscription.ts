import { ExponentialBackoff, noJitterGenerator, type IBackoff } from 'cockatiel';
import { ABORTED, raceAbort, sleep } from './abortable';
import { EventSubscription, From, Position, RecordedEvent, comparePositions } from './event-store';

/** A point the source has reached without an event to deliver (where "end" turned out to be). */
export interface Checkpoint {
  checkpoint: Position;
}

export type SourceItem = RecordedEvent | Checkpoint;

/** One connection's worth of events; it ends or throws when the connection drops. */
export interface SubscriptionSource extends AsyncIterable<SourceItem> {
  /** Releases the connection; a pending read may then end or throw. */
  close(): Promise<void>;
}

export interface BackoffOptions {
  /** Wait before the first re-subscription. Default 100 ms. */
  initialMs?: number;
  /** Upper bound of the doubling wait. Default 5 000 ms. */
  maxMs?: number;
}

export interface ResumingSubscriptionOptions {
  from: From;
  /** Opens a source that yields the events after `from`. */
  open: (from: From) => SubscriptionSource;
  backoff?: BackoffOptions;
  /** Told about every drop before the wait; the subscription itself never fails, but for a `fatal` error. */
  onDrop?: (error: unknown, attempt: number) => void;
  /** An error no re-subscription can cure (the stream is gone, say): the iteration throws it. */
  fatal?: (error: unknown) => boolean;
  /** Called once when the subscription closes, by close() or by the consumer leaving. */
  onClose?: () => void;
}

const backoffOf = ({ initialMs = 100, maxMs = 5_000 }: BackoffOptions = {}) =>
  new ExponentialBackoff({ initialDelay: initialMs, maxDelay: maxMs, generator: noJitterGenerator });

/** The wait before re-subscription attempt `attempt` (1-based): cockatiel's doubling backoff, capped. */
export function backoffDelay(attempt: number, options: BackoffOptions = {}): number {
  let step: IBackoff<unknown> = backoffOf(options).next();
  // Past 40 doublings every cap has long been reached.
  for (let i = 1; i < Math.min(attempt, 40); i++) step = step.next(undefined);
  return step.duration;
}

/**
 * Delivers a source's events once each and in order across drops: after a drop (an error,
 * or the source simply ending) it opens a new source after the last position delivered or
 * checkpointed, waiting longer after each consecutive failure, until close() is called.
 * Events at or before that position are dropped, so a source that replays is harmless.
 */
export class ResumingSubscription implements EventSubscription {
  private resumeFrom: From;
  private lastPosition: Position | undefined;
  private closed = false;
  private readonly closing = new AbortController();
  private current: SubscriptionSource | undefined;
  private iterator: AsyncIterator<SourceItem> | undefined;
  private iterating = false;

  constructor(private readonly options: ResumingSubscriptionOptions) {
    this.resumeFrom = options.from;
    if (typeof options.from === 'object') this.lastPosition = options.from.after;
  }

  /** Never rejects: a source that cannot be released (no cluster to unsubscribe from) is dropped. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.closing.abort();
    this.options.onClose?.();
    await this.current?.close().catch(() => undefined);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<RecordedEvent, void, undefined> {
    if (this.iterating) throw new Error('a subscription can be iterated only once');
    this.iterating = true;
    let failures = 0;
    let delay: IBackoff<unknown> | undefined;
    const backoff = backoffOf(this.options.backoff);
    try {
      while (!this.closed) {
        try {
          for (;;) {
            const item = await this.nextFromSource();
            if (item === ABORTED || this.closed) return;
            failures = 0;
            delay = undefined;
            if (this.lastPosition !== undefined && comparePositions(this.positionOf(item), this.lastPosition) <= 0) continue;
            this.lastPosition = this.positionOf(item);
            this.resumeFrom = { after: this.lastPosition };
            if (!('checkpoint' in item)) yield item;
          }
        } catch (error) {
          if (this.closed) return;
          if (this.options.fatal?.(error)) throw error;
          failures++;
          this.options.onDrop?.(error, failures);
        }
        await this.dropCurrent();
        delay = delay ? delay.next(undefined) : backoff.next();
        if (!(await sleep(delay.duration, this.closing.signal))) return;
      }
    } finally {
      await this.close();
    }
  }

  /** The next item of the open source (opening one if needed), ABORTED on close, or throws on a drop. */
  private async nextFromSource(): Promise<SourceItem | typeof ABORTED> {
    if (!this.iterator) {
      this.current = this.options.open(this.resumeFrom);
      this.iterator = this.current[Symbol.asyncIterator]();
    }
    // Closing the source may reject a read that close() has already overtaken: raceAbort ignores it.
    const next = await raceAbort(this.iterator.next(), this.closing.signal);
    if (next === ABORTED) return ABORTED;
    if (next.done) throw new Error('the subscription ended without being closed');
    return next.value;
  }

  private async dropCurrent(): Promise<void> {
    const source = this.current;
    this.current = undefined;
    this.iterator = undefined;
    await source?.close().catch(() => undefined);
  }

  private positionOf(item: SourceItem): Position {
    return 'checkpoint' in item ? item.checkpoint : item.position;
  }
}
