import type {
  ANY,
  AllStreamSubscription,
  EventStoreDBClient,
  JSONType,
  NO_STREAM as ESDB_NO_STREAM,
  RecordedEvent as EsdbRecordedEvent,
} from '@eventstore/db-client';
import { esdbClient } from './client-library';
import {
  ANY_REVISION,
  AppendResult,
  ConcurrencyError,
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
  StreamTruncatedError,
  UNKNOWN_POSITION,
  comparePositions,
} from '../event-store';
import { raceAbort } from '../abortable';
import { checkConnectionString } from './connection-string';
import { drain } from './drain';
import { ESDB_STREAM_PREFIX, toPortError } from './errors';
import { decodePosition, encodePosition, knownPosition } from './position';
import { BackoffOptions, ResumingSubscription, SourceItem, SubscriptionSource } from '../resuming-subscription';
import { checkServerVersion } from './server-version';

/**
 * What the client learns from the server's ServerFeatures service. The getter is protected in
 * the 6.x typings; the client fetches it once per connection for its own use (it decides
 * between Append and BatchAppend with it), so reading it costs no extra call.
 */
interface ClientCapabilities {
  readonly capabilities: Promise<{ serverVersion: string }>;
}

export interface EsdbEventStoreOptions {
  /**
   * e.g. `esdb://admin:changeit@127.0.0.1:2113?tls=false`. Ignored when `client` is given.
   * Refused: throwOnAppendFailure=false and a nodePreference other than leader.
   */
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
  if (expected === ANY_REVISION) return esdbClient().ANY;
  if (expected === NO_STREAM) return esdbClient().NO_STREAM;
  if (!/^\d+$/.test(expected)) throw new RangeError(`not a stream revision: "${expected}"`);
  return BigInt(expected);
};

const toMetadata = (metadata: unknown): EventMetadata | undefined =>
  metadata && typeof metadata === 'object' && !Array.isArray(metadata) && !(metadata instanceof Uint8Array)
    ? (metadata as EventMetadata)
    : undefined;

/**
 * A stream read may meet an event the server cannot place in $all (see knownPosition): it is
 * still history to fold, so it comes with UNKNOWN_POSITION. On $all every record has a place,
 * and a subscription could not resume from one without.
 */
const toRecorded = (event: EsdbRecordedEvent, from: 'stream' | '$all'): RecordedEvent => {
  const position = knownPosition(event.position);
  if (position === undefined && from === '$all') {
    throw new Error(`EventStoreDB gave no $all position for ${event.streamId}@${event.revision} in a read of $all`);
  }
  const metadata = toMetadata(event.metadata);
  return {
    streamId: event.streamId.slice(ESDB_STREAM_PREFIX.length),
    type: event.type,
    // The adapter writes JSON only; a binary event written by someone else stays readable.
    data: event.isJson ? (event.data as object) : { base64: Buffer.from(event.data).toString('base64') },
    ...(metadata ? { metadata } : {}),
    revision: event.revision.toString(10),
    position: position ?? UNKNOWN_POSITION,
    recordedAt: event.created.toISOString(),
  };
};

/**
 * The EventStore port on EventStoreDB, one stream per deployment. Needs server 24.x or later
 * (enforced, see server-version.ts) and a user that may read $all (subscriptions, readAll and
 * ping read it).
 */
export class EsdbEventStore extends EventStore {
  private readonly client: EventStoreDBClient;
  private readonly ownsClient: boolean;
  private readonly subscriptions = new Set<ResumingSubscription>();
  private supportedServer: Promise<void> | undefined;

  constructor(private readonly options: EsdbEventStoreOptions) {
    super();
    if (options.client) {
      this.client = options.client;
      this.ownsClient = false;
    } else if (options.connectionString) {
      checkConnectionString(options.connectionString);
      this.client = esdbClient().EventStoreDBClient.connectionString(options.connectionString);
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
      await this.ensureSupportedServer();
      const result = await this.client.appendToStream(
        name,
        events.map((event) => esdbClient().jsonEvent({ type: event.type, data: event.data as JSONType, metadata: event.metadata })),
        { expectedRevision: toEsdbExpected(expected) },
      );
      // A client built with throwOnAppendFailure=false answers a wrong expected version this
      // way; its revision is not to be trusted (BatchAppend makes it from a boolean).
      if (!result.success) throw new ConcurrencyError(streamId, expected);
      nextRevision = result.nextExpectedRevision;
    } catch (error) {
      const portError = toPortError(error, { operation: `append to ${name}`, streamId, expected });
      throw await this.truncatedOr(portError);
    }
    return { nextRevision: nextRevision.toString(10), position: await this.positionOf(name, nextRevision) };
  }

  /**
   * A stream whose every event was truncated away reads as missing, so its first append
   * expects NO_STREAM and conflicts with a revision that no read can reach: without this
   * check a command handler would retry until it gives up on contention. A stream that now
   * reads from revision 0 was created by a concurrent writer: a real conflict.
   */
  private async truncatedOr(error: unknown): Promise<unknown> {
    if (!(error instanceof ConcurrencyError) || error.expected !== NO_STREAM || typeof error.actual !== 'string') return error;
    try {
      const { revision } = await this.readStream(error.streamId);
      return revision === null ? new StreamTruncatedError(error.streamId, null) : error;
    } catch (readError) {
      return readError instanceof StreamTruncatedError ? readError : error;
    }
  }

  /**
   * The append's answer carries one position for the whole batch, which is not the $all
   * position of its last event when the batch has several; reading that event back is exact
   * whatever the batch size.
   */
  private async positionOf(name: string, revision: bigint): Promise<Position> {
    let found = false;
    let position: Position | undefined;
    try {
      await drain(this.client.readStream(name, { fromRevision: revision, maxCount: 1 }), (resolved) => {
        found = resolved.event !== undefined;
        position = knownPosition(resolved.event?.position);
        return false;
      });
    } catch (error) {
      throw toPortError(error, { operation: `read back ${name}@${revision}` });
    }
    if (!found) throw new Error(`${name}@${revision} was appended but cannot be read back`);
    // Callers wait for projections to pass this position: a stand-in would let them pass at once.
    if (position === undefined) {
      throw new Error(`EventStoreDB did not report the $all position of ${name}@${revision}, which servers before 22.6 never do: use 24.x or later`);
    }
    return position;
  }

  /**
   * Revisions of a stream are contiguous from 0, so a first event after where the read
   * started means older events were truncated away; a fold of the rest would be wrong.
   */
  async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    const name = streamName(streamId);
    const events: RecordedEvent[] = [];
    let revision = options.after ?? null;
    try {
      await this.ensureSupportedServer();
      const fromRevision = options.after === undefined ? 0n : BigInt(options.after) + 1n;
      let expectedNext: bigint | undefined = fromRevision;
      await drain(this.client.readStream(name, { fromRevision: fromRevision === 0n ? esdbClient().START : fromRevision }), ({ event }) => {
        if (!event) return true;
        if (expectedNext !== undefined && event.revision !== expectedNext) {
          throw new StreamTruncatedError(streamId, event.revision.toString(10));
        }
        expectedNext = undefined;
        // A system event still moves the revision the next append must expect.
        revision = event.revision.toString(10);
        if (isDeploymentEvent(event)) events.push(toRecorded(event, 'stream'));
        return true;
      });
    } catch (error) {
      if (error instanceof esdbClient().StreamNotFoundError) return { events: [], revision: null };
      throw toPortError(error, { operation: `read ${name}`, streamId });
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
      await this.ensureSupportedServer();
      await drain(this.client.readAll({ fromPosition: after === undefined ? esdbClient().START : decodePosition(after) }), (resolved) => {
        if (!resolved.event || !isDeploymentEvent(resolved.event)) return true;
        const event = toRecorded(resolved.event, '$all');
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
    const ensureSupportedServer = () => this.ensureSupportedServer();
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<SourceItem> {
        await ensureSupportedServer();
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
          fromPosition: start === 'start' ? esdbClient().START : decodePosition(start.after),
          filter: esdbClient().streamNameFilter({ prefixes: [ESDB_STREAM_PREFIX] }),
        });
        for await (const resolved of subscription) {
          if (resolved.event && isDeploymentEvent(resolved.event)) yield toRecorded(resolved.event, '$all');
        }
      },
      async close() {
        closed = true;
        await subscription?.unsubscribe();
      },
    };
  }

  /**
   * Refuses servers older than 24.x before the first read or write (see server-version.ts).
   * Only an answer is kept: after a failure (no server yet, say) the next call asks again.
   */
  private ensureSupportedServer(): Promise<void> {
    this.supportedServer ??= (async () => {
      let serverVersion: string;
      try {
        ({ serverVersion } = await (this.client as unknown as ClientCapabilities).capabilities);
      } catch (error) {
        throw toPortError(error, { operation: 'ask for the server version' });
      }
      checkServerVersion(serverVersion);
    })().catch((error: unknown) => {
      this.supportedServer = undefined;
      throw error;
    });
    return this.supportedServer;
  }

  /** Position of the last record in $all, whatever its stream; undefined when $all is empty. */
  private async lastPosition(signal?: AbortSignal): Promise<Position | undefined> {
    let position: Position | undefined;
    const read = this.client.readAll({ direction: esdbClient().BACKWARDS, fromPosition: esdbClient().END, maxCount: 1 });
    await drain(
      read,
      (resolved) => {
        if (resolved.event) position = encodePosition(resolved.event.position);
        return false;
      },
      signal,
    );
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

  /** A read that outlives the timeout is cancelled, so readiness probes do not pile up calls. */
  async ping(): Promise<boolean> {
    const timeout = new AbortController();
    const timer = setTimeout(() => timeout.abort(new Error('ping timed out')), this.options.pingTimeoutMs ?? 2_000);
    try {
      const answered = this.ensureSupportedServer()
        .then(() => this.lastPosition(timeout.signal))
        .then(
          () => true,
          () => false,
        );
      return (await raceAbort(answered, timeout.signal)) === true;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Total: every subscription is closed and the client disposed, whatever fails on the way. */
  async close(): Promise<void> {
    try {
      await Promise.allSettled([...this.subscriptions].map((subscription) => subscription.close()));
    } finally {
      if (this.ownsClient) await this.client.dispose();
    }
  }
}
