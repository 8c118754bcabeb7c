import {
  ANY_REVISION,
  ConcurrencyError,
  EventStore,
  NO_STREAM,
  comparePositions,
  type AppendResult,
  type EventSubscription,
  type ExpectedRevision,
  type From,
  type NewEvent,
  type ReadAllOptions,
  type ReadStreamOptions,
  type ReadStreamResult,
  type RecordedEvent,
} from '../event-store';

/**
 * The EventStore port in this process's memory: for fast tests of what runs on top of it
 * (the interpreter, the read side), held to the same contract suite as the real adapters.
 * A revision is the stream's event count minus one, a position the store-wide event count.
 */
export class InMemoryEventStore extends EventStore {
  private readonly all: RecordedEvent[] = [];
  private readonly streams = new Map<string, RecordedEvent[]>();
  private readonly listeners = new Set<() => void>();
  private closed = false;

  constructor(private readonly clock: () => Date = () => new Date()) {
    super();
  }

  async append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const stream = this.streams.get(streamId) ?? [];
    const actual = stream.length === 0 ? null : String(stream.length - 1);
    const matches = expected === ANY_REVISION || (expected === NO_STREAM ? actual === null : expected === actual);
    if (!matches) throw new ConcurrencyError(streamId, expected, actual);
    const recordedAt = this.clock().toISOString();
    for (const event of events) {
      const recorded: RecordedEvent = {
        type: event.type,
        data: structuredClone(event.data),
        metadata: structuredClone(event.metadata ?? {}),
        streamId,
        revision: String(stream.length),
        position: String(this.all.length + 1),
        recordedAt,
      };
      stream.push(recorded);
      this.all.push(recorded);
    }
    this.streams.set(streamId, stream);
    for (const wake of this.listeners) wake();
    const last = stream[stream.length - 1] as RecordedEvent;
    return { nextRevision: last.revision, position: last.position };
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    const stream = this.streams.get(streamId) ?? [];
    const after = options.after === undefined ? -1 : Number(options.after);
    return {
      events: stream.filter((e) => Number(e.revision) > after).map((e) => structuredClone(e)),
      revision: stream.length === 0 ? null : String(stream.length - 1),
    };
  }

  async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const from = this.startIndex(options.from);
    const end = options.limit === undefined ? undefined : from + options.limit;
    return this.all.slice(from, end).map((e) => structuredClone(e));
  }

  subscribeToAll(options: { from: From }): EventSubscription {
    const cursor = { index: this.startIndex(options.from), open: true, wake: undefined as (() => void) | undefined };
    const listener = () => cursor.wake?.();
    this.listeners.add(listener);
    const close = async () => {
      cursor.open = false;
      this.listeners.delete(listener);
      cursor.wake?.();
    };
    return { close, [Symbol.asyncIterator]: () => this.follow(cursor, close) };
  }

  private async *follow(
    cursor: { index: number; open: boolean; wake: (() => void) | undefined },
    close: () => Promise<void>,
  ): AsyncGenerator<RecordedEvent> {
    try {
      while (cursor.open && !this.closed) {
        if (cursor.index < this.all.length) {
          yield structuredClone(this.all[cursor.index++] as RecordedEvent);
          continue;
        }
        await new Promise<void>((resolve) => (cursor.wake = resolve));
        cursor.wake = undefined;
      }
    } finally {
      await close();
    }
  }

  async headPosition(): Promise<string | null> {
    return this.all[this.all.length - 1]?.position ?? null;
  }

  async ping(): Promise<boolean> {
    return !this.closed;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const wake of this.listeners) wake();
    this.listeners.clear();
  }

  private startIndex(from: From): number {
    if (from === 'start') return 0;
    if (from === 'end') return this.all.length;
    const index = this.all.findIndex((e) => comparePositions(e.position, from.after) > 0);
    return index === -1 ? this.all.length : index;
  }
}
