import { randomUUID } from 'node:crypto';
import {
  DeliverPolicy,
  DiscardPolicy,
  JetStreamApiCodes,
  JetStreamApiError,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type DirectMsgRequest,
  type JetStreamClient,
  type JetStreamManager,
  type JsMsg,
  type StoredMsg,
} from '@nats-io/jetstream';
import { errors as natsErrors, nanos, type NatsConnection } from '@nats-io/transport-node';
import { ResumingSubscription, type SubscriptionSource } from '../resuming-subscription';
import {
  ANY_REVISION,
  ConcurrencyError,
  EventStore,
  NO_STREAM,
  StoreUnavailableError,
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

export interface JetStreamEventStoreOptions {
  /** The one JetStream stream that holds every deployment's events. Default SIMDEPLOY_EVENTS. */
  streamName?: string;
  /** A deployment's events live on `<subjectPrefix>.<deploymentId>`. Default simdeployment. */
  subjectPrefix?: string;
  /** Per-request timeout of JetStream API calls and publishes. Default 5000 ms. */
  timeoutMs?: number;
  /** close() also closes the connection; by default the caller owns it. */
  closeConnection?: boolean;
  /** A fixed wait before a subscription re-creates its consumer after a drop; by default it backs off from 250 ms to 5 s. */
  resubscribeDelayMs?: number;
}

/**
 * Events of one append travel in one message, so a message is the unit of atomicity and a
 * position is `sequence * EVENTS_PER_MESSAGE + index`: unique and increasing store-wide.
 */
export const MAX_EVENTS_PER_APPEND = 1000;
const POSITION_FACTOR = BigInt(MAX_EVENTS_PER_APPEND);
const STREAM_ID = /^[A-Za-z0-9_-]+$/;
const PUBLISH_RETRIES = 3;
const RESUBSCRIBE_BACKOFF = { initialMs: 250, maxMs: 5_000 };

type StoredEvent = Pick<NewEvent, 'type' | 'data' | 'metadata'>;

/** Both direct-get results and consumer deliveries, reduced to what decoding needs. */
interface OpenConsumer {
  messages: ConsumerMessages;
  close(): Promise<void>;
}

interface StoreMessage {
  subject: string;
  seq: number;
  recordedAt: string;
  data: Uint8Array;
}

const fromStored = (m: StoredMsg): StoreMessage => ({
  subject: m.subject,
  seq: m.seq,
  recordedAt: m.time.toISOString(),
  data: m.data,
});

/** Messages appended in one burst share their millisecond: its text is made once (a replay's hot path). */
let lastMs = Number.NaN;
let lastIso = '';
const isoOf = (ms: number): string => {
  if (ms !== lastMs) {
    lastMs = ms;
    lastIso = new Date(ms).toISOString();
  }
  return lastIso;
};

// The bigint avoids float rounding, so both read paths agree on the millisecond.
const deliveredAt = (m: JsMsg): string => isoOf(Number(m.timestampNanos / 1_000_000n));

const fromDelivered = (m: JsMsg): StoreMessage => ({
  subject: m.subject,
  seq: m.seq,
  recordedAt: deliveredAt(m),
  data: m.data,
});

const isStoredEvent = (value: unknown): value is StoredEvent =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as { type?: unknown }).type === 'string' &&
  typeof (value as { data?: unknown }).data === 'object';

const positionOf = (seq: number, index: number): bigint => BigInt(seq) * POSITION_FACTOR + BigInt(index);
/** The same position as text; plain arithmetic while it stays exact (it does for any real stream), as decoding is the hot path of a replay. */
const SAFE_SEQ = Math.floor(Number.MAX_SAFE_INTEGER / MAX_EVENTS_PER_APPEND) - 1;
const positionText = (seq: number, index: number): string =>
  seq < SAFE_SEQ ? String(seq * MAX_EVENTS_PER_APPEND + index) : positionOf(seq, index).toString();
const utf8 = new TextDecoder();

function parseSequence(value: string, what: string): number {
  if (!/^\d+$/.test(value)) throw new RangeError(`${what} "${value}" is not a JetStream revision`);
  return Number(value);
}

/** Transport failures mean "try again later"; anything else is a real answer and passes through. */
function isUnavailable(error: unknown): boolean {
  return (
    error instanceof natsErrors.TimeoutError ||
    error instanceof natsErrors.RequestError ||
    error instanceof natsErrors.NoRespondersError ||
    error instanceof natsErrors.ClosedConnectionError ||
    error instanceof natsErrors.ConnectionError ||
    error instanceof natsErrors.DrainingConnectionError ||
    (error instanceof Error && error.name === 'JetStreamNotEnabled')
  );
}

/** nats.js status iterators can be stopped, though the type only promises AsyncIterable. */
const stopIterating = (iterable: AsyncIterable<unknown>): void => {
  const stoppable = iterable as { stop?: () => void };
  stoppable.stop?.();
};

/**
 * The EventStore port on NATS JetStream (works on nats-server 2.9). One stream holds every
 * deployment; a deployment's events are the subject `<prefix>.<id>`. Optimistic concurrency
 * rides on `Nats-Expected-Last-Subject-Sequence`, so a revision is the stream sequence of the
 * deployment's last message. Stream reads use direct get (no consumer per read: it is the hot
 * path); readAll and subscriptions use ordered consumers.
 */
export class JetStreamEventStore extends EventStore {
  readonly streamName: string;
  readonly subjectPrefix: string;
  private readonly js: JetStreamClient;
  private readonly timeoutMs: number;
  private readonly subscriptions = new Set<EventSubscription>();

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    private readonly options: JetStreamEventStoreOptions,
  ) {
    super();
    this.streamName = options.streamName ?? 'SIMDEPLOY_EVENTS';
    this.subjectPrefix = options.subjectPrefix ?? 'simdeployment';
    this.timeoutMs = options.timeoutMs ?? 5000;
    this.js = jetstream(nc, { timeout: this.timeoutMs });
  }

  /** Connects the store to JetStream, creating its stream when it does not exist yet. */
  static async create(nc: NatsConnection, options: JetStreamEventStoreOptions = {}): Promise<JetStreamEventStore> {
    const jsm = await jetstreamManager(nc, { timeout: options.timeoutMs ?? 5000 }).catch((error: unknown) => {
      throw isUnavailable(error) ? new StoreUnavailableError('JetStream is not reachable', { cause: error }) : error;
    });
    const store = new JetStreamEventStore(nc, jsm, options);
    await store.ensureStream();
    return store;
  }

  private async ensureStream(): Promise<void> {
    const subjects = [`${this.subjectPrefix}.>`];
    const existing = await this.jsm.streams.info(this.streamName).catch((error: unknown) => {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamNotFound) return null;
      throw error;
    });
    if (existing) {
      if (!existing.config.subjects?.some((s) => s === subjects[0])) {
        throw new Error(`stream ${this.streamName} exists but does not hold ${subjects[0]}`);
      }
      // Reads depend on direct get; an older stream may have been created without it.
      if (!existing.config.allow_direct) await this.jsm.streams.update(this.streamName, { ...existing.config, allow_direct: true });
      return;
    }
    await this.jsm.streams.add({
      name: this.streamName,
      subjects,
      storage: StorageType.File,
      retention: RetentionPolicy.Limits,
      // Events are never dropped: no limit is set, so discard never triggers.
      discard: DiscardPolicy.Old,
      max_msgs: -1,
      max_bytes: -1,
      max_age: 0,
      max_msgs_per_subject: -1,
      duplicate_window: nanos(2 * 60 * 1000),
      allow_direct: true,
      deny_delete: true,
      num_replicas: 1,
    });
  }

  override async append(streamId: string, events: readonly NewEvent[], expected: ExpectedRevision): Promise<AppendResult> {
    const subject = this.subjectOf(streamId);
    if (events.length === 0) throw new RangeError('append needs at least one event');
    if (events.length > MAX_EVENTS_PER_APPEND) {
      throw new RangeError(`at most ${MAX_EVENTS_PER_APPEND} events fit in one append, got ${events.length}`);
    }
    const body: StoredEvent[] = events.map(({ type, data, metadata }) => ({ type, data, metadata }));
    const lastSubjectSequence =
      expected === ANY_REVISION ? undefined : expected === NO_STREAM ? 0 : parseSequence(expected, 'expected revision');
    try {
      const ack = await this.js.publish(subject, JSON.stringify(body), {
        expect: lastSubjectSequence === undefined ? undefined : { lastSubjectSequence },
        // Retries after a timeout carry the same id, so the server stores the append at most once.
        msgID: randomUUID(),
        retries: PUBLISH_RETRIES,
        timeout: this.timeoutMs,
      });
      return { nextRevision: String(ack.seq), position: positionOf(ack.seq, events.length - 1).toString() };
    } catch (error) {
      if (error instanceof JetStreamApiError && error.code === JetStreamApiCodes.StreamWrongLastSequence) {
        const actual = /(\d+)\s*$/.exec(error.message)?.[1];
        throw new ConcurrencyError(streamId, expected, actual === undefined ? undefined : actual === '0' ? null : actual);
      }
      throw this.unavailableOr(error, `append to ${streamId}`);
    }
  }

  /**
   * One direct get learns the last sequence (so a cached state with nothing new costs one
   * request), then next_by_subj walks forward message by message up to it.
   */
  override async readStream(streamId: string, options: ReadStreamOptions = {}): Promise<ReadStreamResult> {
    const subject = this.subjectOf(streamId);
    const after = options.after === undefined ? 0 : parseSequence(options.after, 'after');
    const last = await this.directGet({ last_by_subj: subject }, streamId);
    if (!last) return { events: [], revision: null };
    const revision = String(last.seq);
    if (last.seq <= after) return { events: [], revision };
    const messages: StoreMessage[] = [];
    for (let seq = after + 1; seq < last.seq; ) {
      const next = await this.directGet({ next_by_subj: subject, seq }, streamId);
      if (!next || next.seq >= last.seq) break;
      messages.push(next);
      seq = next.seq + 1;
    }
    messages.push(last);
    return { events: messages.flatMap((m) => this.decode(m)), revision };
  }

  override async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const limit = options.limit ?? Number.POSITIVE_INFINITY;
    const after = options.from === 'start' ? null : BigInt(options.from.after);
    if (limit <= 0) return [];
    const lastSeq = await this.lastSequence();
    const startSeq = this.startSequence(after);
    if (lastSeq < startSeq) return [];
    const consumer = await this.consume(startSeq, Math.min(limit, 4096));
    const events: RecordedEvent[] = [];
    try {
      for await (const m of consumer.messages) {
        const seq = m.seq;
        // Only the first message can hold events at or before `after` (a message holds up to 1000).
        this.decodeInto(m.subject, seq, deliveredAt(m), m.data, events, after !== null && seq <= startSeq ? after : null);
        if (events.length >= limit) {
          events.length = limit;
          return events;
        }
        // The snapshot ends where the stream ended when the read began.
        if (m.seq >= lastSeq || m.info.pending === 0) return events;
      }
      throw new StoreUnavailableError('readAll was cut off before the end of the stream');
    } finally {
      await consumer.close();
    }
  }

  /**
   * The shared ResumingSubscription over ordered consumers: after a drop it re-creates the
   * consumer after the last position delivered, with the same backoff as every other re-subscription.
   */
  override subscribeToAll(options: { from: From }): EventSubscription {
    // 'end' is fixed now, not when the caller starts iterating.
    const end: Promise<From> | null =
      options.from === 'end' ? this.lastSequence().then((seq) => ({ after: positionOf(seq, MAX_EVENTS_PER_APPEND - 1).toString() })) : null;
    end?.catch(() => undefined); // surfaced by the first read

    let current: OpenConsumer | undefined;
    // A reconnect may have lost the server-side consumer (memory storage, kill -9): rather than
    // trust the ordered consumer to notice, end this source; the subscription resumes from the last position.
    const status = this.nc.status();
    void (async () => {
      for await (const s of status) if (s.type === 'reconnect') current?.messages.stop();
    })();

    const open = (from: From): SubscriptionSource => {
      let consumer: OpenConsumer | undefined;
      const source = async function* (this: JetStreamEventStore): AsyncGenerator<RecordedEvent> {
        const start = from === 'end' && end ? await end : from;
        const after = start === 'start' || start === 'end' ? null : BigInt(start.after);
        consumer = await this.consume(this.startSequence(after), 256);
        current = consumer;
        for await (const m of consumer.messages) yield* this.decode(fromDelivered(m));
      }.call(this);
      return { [Symbol.asyncIterator]: () => source, close: async () => void (await consumer?.close()) };
    };

    const subscription = new ResumingSubscription({
      from: options.from,
      open,
      backoff: this.options.resubscribeDelayMs === undefined ? RESUBSCRIBE_BACKOFF : { initialMs: this.options.resubscribeDelayMs, maxMs: this.options.resubscribeDelayMs },
      // Only the caller closing the connection ends it; anything else is waited out and resumed.
      fatal: () => this.nc.isClosed(),
      onClose: () => {
        stopIterating(status);
        this.subscriptions.delete(subscription);
      },
    });
    this.subscriptions.add(subscription);
    return subscription;
  }

  /** The last message's highest possible position: a message holds up to 1000 events. */
  override async headPosition(): Promise<string | null> {
    const lastSeq = await this.lastSequence();
    return lastSeq === 0 ? null : positionOf(lastSeq, MAX_EVENTS_PER_APPEND - 1).toString();
  }

  override async ping(): Promise<boolean> {
    try {
      await this.jsm.streams.info(this.streamName);
      return true;
    } catch {
      return false;
    }
  }

  /** Ends every open subscription; closes the connection only when `closeConnection` was set. */
  override async close(): Promise<void> {
    await Promise.all([...this.subscriptions].map((s) => s.close()));
    if (this.options.closeConnection) await this.nc.close();
  }

  private subjectOf(streamId: string): string {
    // A dot or wildcard would read or write other deployments' subjects.
    if (!STREAM_ID.test(streamId)) throw new RangeError(`"${streamId}" is not a valid stream id`);
    return `${this.subjectPrefix}.${streamId}`;
  }

  /** The first message that can hold an event after `after` (a message holds up to 1000). */
  private startSequence(after: bigint | null): number {
    return after === null ? 1 : Math.max(1, Number(after / POSITION_FACTOR));
  }

  private async lastSequence(): Promise<number> {
    try {
      return (await this.jsm.streams.info(this.streamName)).state.last_seq;
    } catch (error) {
      throw this.unavailableOr(error, 'stream info');
    }
  }

  private async directGet(query: DirectMsgRequest, streamId: string): Promise<StoreMessage | null> {
    try {
      const message = await this.jsm.direct.getMessage(this.streamName, query);
      return message ? fromStored(message) : null;
    } catch (error) {
      throw this.unavailableOr(error, `read ${streamId}`);
    }
  }

  /** An ordered consumer from `startSeq`; `close` also deletes it rather than leave it to expire. */
  private async consume(startSeq: number, batch: number): Promise<OpenConsumer> {
    try {
      const consumer = await this.js.consumers.get(this.streamName, {
        filter_subjects: `${this.subjectPrefix}.>`,
        deliver_policy: DeliverPolicy.StartSequence,
        opt_start_seq: startSeq,
      });
      const messages = await consumer.consume({ max_messages: batch });
      return {
        messages,
        close: async () => {
          // Not messages.close(): it waits for a reader to drain the queue, and there may be none.
          messages.stop();
          await consumer.delete().catch(() => undefined);
        },
      };
    } catch (error) {
      throw this.unavailableOr(error, 'create an ordered consumer');
    }
  }

  private decode(message: StoreMessage): RecordedEvent[] {
    const events: RecordedEvent[] = [];
    this.decodeInto(message.subject, message.seq, message.recordedAt, message.data, events, null);
    return events;
  }

  /**
   * Appends a message's events to `out`, skipping those at or before `skipUpTo`. One pass, no
   * arrays in between: a replay decodes every message of the store through here.
   */
  private decodeInto(subject: string, seq: number, recordedAt: string, data: Uint8Array, out: RecordedEvent[], skipUpTo: bigint | null): void {
    let body: unknown;
    try {
      body = JSON.parse(utf8.decode(data));
    } catch {
      return;
    }
    // Something not written by this adapter holds no events, yet still counts as a revision.
    const stored = Array.isArray(body) ? (body as unknown[]) : [body];
    const streamId = subject.slice(this.subjectPrefix.length + 1);
    const revision = String(seq);
    let index = 0;
    for (const event of stored) {
      if (!isStoredEvent(event)) continue;
      const at = index++;
      const position = positionText(seq, at);
      if (skipUpTo !== null && BigInt(position) <= skipUpTo) continue;
      out.push(
        event.metadata === undefined
          ? { streamId, type: event.type, data: event.data, revision, position, recordedAt }
          : { streamId, type: event.type, data: event.data, metadata: event.metadata, revision, position, recordedAt },
      );
    }
  }

  private unavailableOr(error: unknown, what: string): unknown {
    return isUnavailable(error)
      ? new StoreUnavailableError(`JetStream did not answer (${what}): ${(error as Error).message}`, { cause: error })
      : error;
  }
}
