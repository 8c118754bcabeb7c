import {
  ANY,
  AllStreamSubscription,
  BACKWARDS,
  END,
  EventStoreDBClient,
  JSONType,
  NO_STREAM as ESDB_NO_STREAM,
  RecordedEvent as EsdbRecordedEvent,
  START,
  StreamNotFoundError,
  StreamingRead,
  jsonEvent,
  streamNameFilter,
} from '@eventstore/db-client';
import {
  ANY_REVISION,
  AppendResult,
  EventMetadata,
  EventStore,
  EventSubscription,
  ExpectedRevision,
  From,
  NO_STREAM,
  NewEvent,
  Position,
  ReadAllOptions,
  ReadStreamOptions,
  ReadStreamResult,
  RecordedEvent,
  comparePositions,
} from '../event-store';
import { toPortError } from './errors';
import { decodePosition, encodePosition } from './position';
import { BackoffOptions, ResumingSubscription, SourceItem, SubscriptionSource } from './resuming-subscription';

/** Streams of the category `SimDeployment`; the port's stream id is what follows the dash. */
export const ESDB_STREAM_PREFIX = 'SimDeployment-';

export interface EsdbEventStoreOptions {
  /** e.g. `esdb://admin:changeit@127.0.0.1:2113?tls=false`. Ignored when `client` is given. */
  connectionString?: string;
  /** A client the caller owns (and disposes); close() then leaves it open. */
  client?: EventStoreDBClient;
  /** How long ping() waits for an answer. Default 2 000 ms. */
  pingTimeoutMs?: number;
  /** Waits between re-subscriptions after a subscription drops. */
  resubscribeBackoff?: BackoffOptions;
  /** Told about every subscription drop (the subscription resumes by itself). */
  onSubscriptionDrop?: (error: unknown, attempt: number) => void;
}

const streamName = (streamId: string): string => ESDB_STREAM_PREFIX + streamId;

/** System events ($metadata, $streamDeleted, links) are the server's, not deployment history. */
const isDeploymentEvent = (event: EsdbRecordedEvent): boolean =>
  event.streamId.startsWith(ESDB_STREAM_PREFIX) && !event.type.startsWith('$');

const toEsdbExpected = (expected: ExpectedRevision): typeof ANY | typeof ESDB_NO_STREAM | bigint => {
  if (expected === ANY_REVISION) return ANY;
  if (expected === NO_STREAM) return ESDB_NO_STREAM;
  if (!/^\d+$/.test(expected)) throw new RangeError(`not a stream revision: "${expected}"`);
  return BigInt(expected);
};

const toMetadata = (metadata: unknown): EventMetadata | undefined =>
  metadata && typeof metadata === 'object' && !Array.isArray(metadata) && !(metadata instanceof Uint8Array)
    ? (metadata as EventMetadata)
    : undefined;

const toRecorded = (event: EsdbRecordedEvent): RecordedEvent => {
  if (!event.position) {
    // Stream reads carry positions only from EventStoreDB 22.6 on.
    throw new Error(`EventStoreDB gave no position for ${event.streamId}@${event.revision}: use server 22.10 or later`);
  }
  const metadata = toMetadata(event.metadata);
  return {
    streamId: event.streamId.slice(ESDB_STREAM_PREFIX.length),
    type: event.type,
    // The adapter writes JSON only; a binary event written by someone else stays readable.
    data: event.isJson ? (event.data as object) : { base64: Buffer.from(event.data).toString('base64') },
    ...(metadata ? { metadata } : {}),
    revision: event.revision.toString(10),
    position: encodePosition(event.position),
    recordedAt: event.created.toISOString(),
  };
};

/**
 * Reads a client stream until it ends or `take` returns false. Leaving early cancels the
 * gRPC call, which breaking out of the iteration alone does not.
 */
const drain = async <E>(read: StreamingRead<E>, take: (item: E) => boolean): Promise<void> => {
  let stoppedEarly = false;
  try {
    for await (const item of read) {
      if (!take(item)) {
        stoppedEarly = true;
        break;
      }
    }
  } finally {
    if (stoppedEarly) await read.cancel().catch(() => undefined);
  }
};

/**
 * The EventStore port on EventStoreDB, one stream per deployment. Needs server 22.10 or later
 * (stream reads carry $all positions from 22.6) and a user that may read $all (subscriptions,
 * readAll and ping read it).
 */
export class EsdbEventStore extends EventStore {
  private readonly client: EventStoreDBClient;
  private readonly ownsClient: boolean;
  private readonly subscriptions = new Set<ResumingSubscription>();

  constructor(private readonly options: EsdbEventStoreOptions) {
    super();
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else if (options.connectionString) {
      this.client = EventStoreDBClient.connectionString(options.connectionString);
      this.ownsClient = true;
    } else {
      throw new Error('EsdbEventStore needs a connectionString or a client');
    }
  }

  async append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    if (events.length === 0) throw new RangeError('append needs at least one event');
    const name = streamName(streamId);
    let nextRevision: bigint;
    try {
      const result = await this.client.appendToStream(
        name,
        events.map((event) => jsonEvent({ type: event.type, data: event.data as JSONType, metadata: event.metadata })),
        { expectedRevision: toEsdbExpected(expected) },
      );
      nextRevision = result.nextExpectedRevision;
    } catch (error) {
      throw toPortError(error, { operation: `append to ${name}`, streamId, expected });
    }
    return { nextRevision: nextRevision.toString(10), position: await this.positionOf(name, nextRevision) };
  }

  /**
   * The append's answer carries one position for the whole batch, which is not the $all
   * position of its last event when the batch has several; reading that event back is exact
   * whatever the batch size.
   */
  private async positionOf(name: string, revision: bigint): Promise<Position> {
    let position: Position | undefined;
    try {
      await drain(this.client.readStream(name, { fromRevision: revision, maxCount: 1 }), (resolved) => {
        if (resolved.event) position = toRecorded(resolved.event).position;
        return false;
      });
    } catch (error) {
      throw toPortError(error, { operation: `read back ${name}@${revision}` });
    }
    if (position === undefined) throw new Error(`${name}@${revision} was appended but cannot be read back`);
    return position;
  }

  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    const name = streamName(streamId);
    const events: RecordedEvent[] = [];
    let revision = options.after ?? null;
    try {
      const fromRevision = options.after === undefined ? START : BigInt(options.after) + 1n;
      await drain(this.client.readStream(name, { fromRevision }), ({ event }) => {
        if (!event) return true;
        // A system event still moves the revision the next append must expect.
        revision = event.revision.toString(10);
        if (isDeploymentEvent(event)) events.push(toRecorded(event));
        return true;
      });
    } catch (error) {
      if (error instanceof StreamNotFoundError) return { events: [], revision: null };
      throw toPortError(error, { operation: `read ${name}` });
    }
    return { events, revision };
  }

  /**
   * The 6.x client offers server-side filters on subscriptions only, so reads of $all skip
   * other streams here: the cost is scanning them, not shipping them to the caller.
   */
  async readAll({ from, limit }: ReadAllOptions): Promise<RecordedEvent[]> {
    const events: RecordedEvent[] = [];
    if (limit !== undefined && limit <= 0) return events;
    const after = from === 'start' ? undefined : from.after;
    try {
      await drain(this.client.readAll({ fromPosition: after === undefined ? START : decodePosition(after) }), (resolved) => {
        if (!resolved.event || !isDeploymentEvent(resolved.event)) return true;
        const event = toRecorded(resolved.event);
        // Reads of $all include the event at the start position; the port's `after` does not.
        if (after === undefined || comparePositions(event.position, after) > 0) events.push(event);
        return limit === undefined || events.length < limit;
      });
    } catch (error) {
      throw toPortError(error, { operation: 'read $all' });
    }
    return events;
  }

  subscribeToAll({ from }: { from: From }): EventSubscription {
    const subscription = new ResumingSubscription({
      from,
      open: (resumeFrom) => this.openSource(resumeFrom),
      backoff: this.options.resubscribeBackoff,
      onDrop: (error, attempt) =>
        this.options.onSubscriptionDrop?.(toPortError(error, { operation: 'subscription to $all' }), attempt),
      onClose: () => this.subscriptions.delete(subscription),
    });
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** One server subscription; "end" is pinned to a position first so a resume loses nothing. */
  private openSource(from: From): SubscriptionSource {
    let subscription: AllStreamSubscription | undefined;
    let closed = false;
    const client = this.client;
    const lastPosition = () => this.lastPosition();
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<SourceItem> {
        let start: Exclude<From, 'end'> = from === 'end' ? 'start' : from;
        if (from === 'end') {
          const last = await lastPosition();
          if (last !== undefined) {
            start = { after: last };
            yield { checkpoint: last };
          }
        }
        if (closed) return;
        subscription = client.subscribeToAll({
          fromPosition: start === 'start' ? START : decodePosition(start.after),
          filter: streamNameFilter({ prefixes: [ESDB_STREAM_PREFIX] }),
        });
        for await (const resolved of subscription) {
          if (resolved.event && isDeploymentEvent(resolved.event)) yield toRecorded(resolved.event);
        }
      },
      async close() {
        closed = true;
        await subscription?.unsubscribe();
      },
    };
  }

  /** Position of the last record in $all, whatever its stream; undefined when $all is empty. */
  private async lastPosition(): Promise<Position | undefined> {
    let position: Position | undefined;
    await drain(this.client.readAll({ direction: BACKWARDS, fromPosition: END, maxCount: 1 }), (resolved) => {
      if (resolved.event) position = encodePosition(resolved.event.position);
      return false;
    });
    return position;
  }

  /** The last record of $all, whatever its stream: every deployment event is at or before it. */
  async headPosition(): Promise<Position | null> {
    try {
      return (await this.lastPosition()) ?? null;
    } catch (error) {
      throw toPortError(error, { operation: 'read the end of $all' });
    }
  }

  async ping(): Promise<boolean> {
    const timeoutMs = this.options.pingTimeoutMs ?? 2_000;
    let timer: NodeJS.Timeout | undefined;
    const timedOut = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), timeoutMs)));
    const answered = this.lastPosition().then(
      () => true,
      () => false,
    );
    try {
      return await Promise.race([answered, timedOut]);
    } finally {
      clearTimeout(timer);
    }
  }

  async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((subscription) => subscription.close()));
    if (this.ownsClient) await this.client.dispose();
  }
}
