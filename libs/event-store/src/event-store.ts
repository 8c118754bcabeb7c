/**
 * The event store port. Streams are named by deployment id; each adapter maps the id to
 * its own naming (`SimDeployment-<id>` on EventStoreDB, `simdeployment.<id>` on JetStream).
 * Revisions and positions are opaque decimal strings so that JSON can carry them: callers
 * only hand back what the store gave them, and compare positions with `comparePositions`.
 */

/** What a stream's last event is at, as the adapter counts it. */
export type StreamRevision = string;
/** A place in the store-wide order of all deployment events. */
export type Position = string;

/**
 * The position of an event read from its stream when the store cannot place it in the
 * store-wide order (EventStoreDB: an event written by a legacy TCP transaction). It orders
 * before every real position, so a subscription resumed from it replays rather than skips.
 * Reads of all streams and appends never return it.
 */
export const UNKNOWN_POSITION: Position = '0';

/** Append only if the stream has no events yet. */
export const NO_STREAM = 'no_stream' as const;
/** Append whatever the stream holds (for records that need no concurrency control). */
export const ANY_REVISION = 'any' as const;
export type ExpectedRevision = StreamRevision | typeof NO_STREAM | typeof ANY_REVISION;

export interface EventMetadata {
  /** Correlates the events and commands of one user request. */
  correlationId?: string;
  /** Which command or service caused the event. */
  causationId?: string;
  [key: string]: unknown;
}

export interface NewEvent {
  type: string;
  data: object;
  metadata?: EventMetadata;
}

export interface RecordedEvent extends NewEvent {
  /** The deployment id the stream belongs to. */
  streamId: string;
  /** The stream revision this event brought the stream to. */
  revision: StreamRevision;
  /** The event's place in the store-wide order. */
  position: Position;
  /** When the store recorded it (ISO-8601). */
  recordedAt: string;
}

export interface ReadStreamResult {
  events: RecordedEvent[];
  /** Revision of the last event, or null when the stream does not exist. */
  revision: StreamRevision | null;
}

export interface ReadStreamOptions {
  /** Only events after this revision (for catching a cached state up). */
  after?: StreamRevision;
}

export interface AppendResult {
  /** Revision of the last appended event: the expected revision of the next append. */
  nextRevision: StreamRevision;
  /** Position of the last appended event. */
  position: Position;
}

/** Start of the store, or after a given position. */
export type From = 'start' | 'end' | { after: Position };

export interface ReadAllOptions {
  from: Exclude<From, 'end'>;
  /** At most this many events (default: all). */
  limit?: number;
}

export interface EventSubscription extends AsyncIterable<RecordedEvent> {
  /** Stops the subscription; the iterator then ends. */
  close(): Promise<void>;
}

export abstract class EventStore {
  /**
   * Appends events atomically if the stream is at `expected`. Throws ConcurrencyError when
   * it is not (another writer won), StoreUnavailableError when the store cannot be reached.
   */
  abstract append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult>;

  /** All events of one stream in order; a missing stream reads as empty with revision null. */
  abstract readStream(streamId: string, options?: ReadStreamOptions): Promise<ReadStreamResult>;

  /** Deployment events of every stream, in store order. */
  abstract readAll(options: ReadAllOptions): Promise<RecordedEvent[]>;

  /**
   * Every deployment event after `from`, live, once each and in store order. The adapter
   * resumes by itself from the last delivered position when its connection drops.
   */
  abstract subscribeToAll(options: { from: From }): EventSubscription;

  /**
   * A position at or after every deployment event the store holds now, and before any event
   * appended later; null when the store holds none. Projections compare it with their
   * checkpoint to know when they have caught up with what was there at their start.
   */
  abstract headPosition(): Promise<Position | null>;

  /** Whether the store answers now (for readiness checks). */
  abstract ping(): Promise<boolean>;

  abstract close(): Promise<void>;
}

/** Orders two positions of the same store. */
export const comparePositions = (a: Position, b: Position): number => {
  const x = BigInt(a);
  const y = BigInt(b);
  return x < y ? -1 : x > y ? 1 : 0;
};

export class ConcurrencyError extends Error {
  readonly code = 'CONCURRENCY';
  constructor(
    readonly streamId: string,
    readonly expected: ExpectedRevision,
    readonly actual?: StreamRevision | null,
  ) {
    super(`stream ${streamId} is not at revision ${expected}` + (actual !== undefined ? ` (it is at ${actual ?? 'no stream'})` : ''));
    this.name = 'ConcurrencyError';
  }
}

export class StoreUnavailableError extends Error {
  readonly code = 'STORE_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'StoreUnavailableError';
  }
}

/**
 * The stream was deleted for good (an EventStoreDB tombstone): it can be neither read nor
 * appended to again. The deployment is gone, which no retry changes.
 */
export class StreamDeletedError extends Error {
  readonly code = 'STREAM_DELETED';
  constructor(readonly streamId: string, options?: { cause?: unknown }) {
    super(`stream ${streamId} was deleted and can no longer be read or appended to`, options);
    this.name = 'StreamDeletedError';
  }
}

/**
 * The stream's history does not start at its first event: the store dropped older events
 * (EventStoreDB $tb, $maxCount or $maxAge metadata, or a soft delete). A state folded from the
 * rest would be wrong, so nothing is returned; an operator must restore the history.
 */
export class StreamTruncatedError extends Error {
  readonly code = 'STREAM_TRUNCATED';
  constructor(
    readonly streamId: string,
    /** The earliest revision the store still returns; null when it returns none. */
    readonly firstAvailable: StreamRevision | null,
  ) {
    super(
      `stream ${streamId} is truncated: ` +
        (firstAvailable === null ? 'it exists but none of its events can be read' : `its events before revision ${firstAvailable} are gone`),
    );
    this.name = 'StreamTruncatedError';
  }
}
