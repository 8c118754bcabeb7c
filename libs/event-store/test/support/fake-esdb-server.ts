import { randomUUID } from 'node:crypto';
import {
  Metadata,
  Server,
  ServerCredentials,
  status,
  type sendUnaryData,
  type ServerDuplexStream,
  type ServerReadableStream,
  type ServerUnaryCall,
  type ServerWritableStream,
} from '@grpc/grpc-js';
import { ServerFeaturesService } from '@eventstore/db-client/generated/serverfeatures_grpc_pb';
import { SupportedMethod, SupportedMethods } from '@eventstore/db-client/generated/serverfeatures_pb';
import { AllStreamPosition, Empty, StreamDeleted, StreamIdentifier, UUID, WrongExpectedVersion } from '@eventstore/db-client/generated/shared_pb';
import { Code } from '@eventstore/db-client/generated/code_pb';
import { Status } from '@eventstore/db-client/generated/status_pb';
import { StreamsService } from '@eventstore/db-client/generated/streams_grpc_pb';
import { AppendReq, AppendResp, BatchAppendReq, BatchAppendResp, ReadReq, ReadResp } from '@eventstore/db-client/generated/streams_pb';
import { Any } from 'google-protobuf/google/protobuf/any_pb';

/**
 * An EventStoreDB node as the 6.2.1 client sees it: a gRPC server on loopback that speaks the
 * client's own service definitions (Streams, ServerFeatures). Tests talk to it through the real
 * client, so every answer the adapter gets has the shape the client really produces from the
 * wire: positions from uint64 strings, protobuf defaults, errors converted from gRPC statuses.
 * It models what the adapter relies on, as a 24.x server behaves: $all ordered by
 * (commit, prepare), subscriptions strictly after their start, stream reads with positions.
 */

/** One event in the fake's log. */
export interface StoredRecord {
  stream: string;
  revision: bigint;
  id: string;
  type: string;
  data: Uint8Array;
  customMetadata: Uint8Array;
  contentType: string;
  created: Date;
  commit: bigint;
  prepare: bigint;
}

/** What a stream read reports as an event's $all position. */
export type StreamReadPosition = 'known' | 'unset' | 'unknown';

/** A read the server served, and how it ended. */
export interface ServedRead {
  kind: 'stream' | 'all' | 'subscription';
  target: string;
  ended: 'open' | 'finished' | 'cancelled';
}

const UINT64_MAX = 2n ** 64n - 1n;
const TICKS_PER_MS = 10_000n;

export class FakeEsdbServer {
  /** Version the server reports through ServerFeatures; null: the service is missing (before 21.10). */
  version: string | null = '24.10.0';
  /** Whether ServerFeatures lists BatchAppend (24.x does; the client then uses it for appends). */
  batchAppend = true;
  /** Reads that stay open after their last event, as a long read throttled by flow control does. */
  holdReadsOpen = false;
  /** Reads of $all backwards are never answered (a node that accepts calls but is stuck). */
  hangBackwardReads = false;

  readonly log: StoredRecord[] = [];
  readonly reads: ServedRead[] = [];
  private readonly tombstoned = new Set<string>();
  private readonly truncatedBefore = new Map<string, bigint>();
  private readonly streamReadPositions = new Map<string, StreamReadPosition>();
  private readonly subscriptions = new Set<{ call: ServerWritableStream<ReadReq, ReadResp>; after: [bigint, bigint]; prefixes: string[] }>();
  private nextLogPosition = 1_000n;
  private server: Server | undefined;
  port = 0;

  static async start(): Promise<FakeEsdbServer> {
    const fake = new FakeEsdbServer();
    await fake.listen();
    return fake;
  }

  get connectionString(): string {
    return `esdb://127.0.0.1:${this.port}?tls=false`;
  }

  /** Writes events as a gRPC append would; the stream gets the next revisions. */
  seed(stream: string, events: { type: string; data?: object }[]): StoredRecord[] {
    return this.write(
      stream,
      events.map(({ type, data }) => ({
        id: randomUUID(),
        type,
        data: Buffer.from(JSON.stringify(data ?? {})),
        customMetadata: new Uint8Array(),
        contentType: 'application/json',
      })),
    );
  }

  /** A hard delete: reads and appends of the stream now fail with stream-deleted. */
  tombstone(stream: string): void {
    this.tombstoned.add(stream);
  }

  /** Stream metadata $tb (or what $maxCount/$maxAge amount to): reads start at `revision`. */
  truncateBefore(stream: string, revision: bigint): void {
    this.truncatedBefore.set(stream, revision);
  }

  /**
   * How stream reads report positions: 'unset' leaves the fields out (the protobuf getters then
   * answer "0", as before 22.6), 'unknown' sends 2^64-1 (22.6+ for an event with no known $all
   * position, such as one written in a legacy TCP transaction).
   */
  reportStreamReadPositions(stream: string, how: StreamReadPosition): void {
    this.streamReadPositions.set(stream, how);
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (server) server.forceShutdown();
  }

  private async listen(): Promise<void> {
    const server = new Server();
    server.addService(ServerFeaturesService, { getSupportedMethods: this.getSupportedMethods });
    server.addService(StreamsService, { read: this.read, append: this.append, batchAppend: this.batchAppendCall });
    this.port = await new Promise<number>((resolve, reject) =>
      server.bindAsync('127.0.0.1:0', ServerCredentials.createInsecure(), (error, port) => (error ? reject(error) : resolve(port))),
    );
    this.server = server;
  }

  private readonly getSupportedMethods = (_call: ServerUnaryCall<Empty, SupportedMethods>, callback: sendUnaryData<SupportedMethods>): void => {
    if (this.version === null) return callback({ code: status.UNIMPLEMENTED, details: 'unknown service' }, null);
    const method = (service: string, name: string) => new SupportedMethod().setServiceName(service).setMethodName(name);
    const methods = [method('event_store.client.streams.streams', 'read'), method('event_store.client.streams.streams', 'append')];
    if (this.batchAppend) methods.push(method('event_store.client.streams.streams', 'batchappend'));
    callback(null, new SupportedMethods().setEventStoreServerVersion(this.version).setMethodsList(methods));
  };

  private readonly read = (call: ServerWritableStream<ReadReq, ReadResp>): void => {
    const options = call.request.getOptions();
    if (!options) return void call.emit('error', { code: status.INVALID_ARGUMENT, details: 'no options' });
    const backwards = options.getReadDirection() === ReadReq.Options.ReadDirection.BACKWARDS;
    const count = options.hasCount() ? BigInt(options.getCount()) : UINT64_MAX;
    const stream = options.getStream();
    const all = options.getAll();
    const served: ServedRead = {
      kind: options.hasSubscription() ? 'subscription' : stream ? 'stream' : 'all',
      target: stream ? Buffer.from(stream.getStreamIdentifier()?.getStreamName_asU8() ?? []).toString('utf8') : '$all',
      ended: 'open',
    };
    this.reads.push(served);
    call.on('cancelled', () => {
      if (served.ended === 'open') served.ended = 'cancelled';
    });
    const finish = () => {
      if (this.holdReadsOpen) return;
      served.ended = 'finished';
      call.end();
    };

    if (stream) {
      const name = served.target;
      if (this.tombstoned.has(name)) return void call.emit('error', streamDeletedStatus(name));
      const records = this.log.filter((r) => r.stream === name);
      if (records.length === 0) {
        call.write(new ReadResp().setStreamNotFound(new ReadResp.StreamNotFound().setStreamIdentifier(identifier(name))));
        return finish();
      }
      const visibleFrom = this.truncatedBefore.get(name) ?? 0n;
      const opts = stream;
      let selected = records.filter((r) => r.revision >= visibleFrom);
      if (backwards) {
        const before = opts.hasEnd() ? UINT64_MAX : BigInt(opts.getRevision());
        selected = selected.filter((r) => r.revision <= before).reverse();
      } else {
        const from = opts.hasStart() ? 0n : BigInt(opts.getRevision());
        selected = selected.filter((r) => r.revision >= from);
      }
      const how = this.streamReadPositions.get(name) ?? 'known';
      for (const record of selected.slice(0, Number(count < 1_000_000n ? count : 1_000_000n))) call.write(readEvent(record, how, false));
      return finish();
    }

    if (!all) return void call.emit('error', { code: status.INVALID_ARGUMENT, details: 'neither stream nor $all' });
    const start: [bigint, bigint] | 'start' | 'end' = all.hasStart()
      ? 'start'
      : all.hasEnd()
        ? 'end'
        : [BigInt(all.getPosition()?.getCommitPosition() ?? '0'), BigInt(all.getPosition()?.getPreparePosition() ?? '0')];

    if (options.hasSubscription()) {
      call.write(new ReadResp().setConfirmation(new ReadResp.SubscriptionConfirmation().setSubscriptionId(randomUUID())));
      const prefixes = options.getFilter()?.getStreamIdentifier()?.getPrefixList() ?? [];
      const matches = (r: StoredRecord) => prefixes.length === 0 || prefixes.some((p) => r.stream.startsWith(p));
      const last = this.log[this.log.length - 1];
      const after: [bigint, bigint] = start === 'start' ? [-1n, -1n] : start === 'end' ? (last ? [last.commit, last.prepare] : [-1n, -1n]) : start;
      // 24.x subscribes strictly after the given position, whether a record is there or not.
      for (const record of this.log) if (isAfter(record, after) && matches(record)) call.write(readEvent(record, 'known', true));
      const subscription = { call, after, prefixes };
      this.subscriptions.add(subscription);
      call.on('cancelled', () => this.subscriptions.delete(subscription));
      return;
    }

    if (backwards) {
      if (this.hangBackwardReads) return;
      const selected = [...this.log].reverse().slice(0, Number(count < 1_000_000n ? count : 1_000_000n));
      for (const record of selected) call.write(readEvent(record, 'known', true));
      return finish();
    }
    // Reads of $all forwards include the record at the start position.
    const from: [bigint, bigint] = start === 'start' ? [-1n, -1n] : start === 'end' ? [UINT64_MAX, UINT64_MAX] : start;
    const selected = this.log.filter((r) => isAtOrAfter(r, from)).slice(0, Number(count < 1_000_000n ? count : 1_000_000n));
    for (const record of selected) call.write(readEvent(record, 'known', true));
    return finish();
  };

  private readonly append = (call: ServerReadableStream<AppendReq, AppendResp>, callback: sendUnaryData<AppendResp>): void => {
    let options: AppendReq.Options | undefined;
    const proposed: AppendReq.ProposedMessage[] = [];
    call.on('data', (request: AppendReq) => {
      if (request.hasOptions()) options = request.getOptions();
      const message = request.getProposedMessage();
      if (message) proposed.push(message);
    });
    call.on('end', () => {
      if (!options) return callback({ code: status.INVALID_ARGUMENT, details: 'no options' }, null);
      const name = Buffer.from(options.getStreamIdentifier()?.getStreamName_asU8() ?? []).toString('utf8');
      const expected: Expected = options.hasAny() ? 'any' : options.hasNoStream() ? 'no_stream' : options.hasStreamExists() ? 'stream_exists' : BigInt(options.getRevision());
      const outcome = this.tryAppend(name, expected, proposed);
      if (outcome.kind === 'deleted') return callback(streamDeletedStatus(name), null);
      if (outcome.kind === 'wrong') {
        const wrong = new AppendResp.WrongExpectedVersion();
        if (outcome.current === undefined) wrong.setCurrentNoStream(new Empty());
        else wrong.setCurrentRevision(outcome.current.toString());
        if (expected === 'any') wrong.setExpectedAny(new Empty());
        else if (expected === 'no_stream') wrong.setExpectedNoStream(new Empty());
        else if (expected === 'stream_exists') wrong.setExpectedStreamExists(new Empty());
        else wrong.setExpectedRevision(expected.toString());
        return callback(null, new AppendResp().setWrongExpectedVersion(wrong));
      }
      const first = outcome.written[0];
      const last = outcome.written[outcome.written.length - 1];
      const position = new AppendResp.Position().setCommitPosition(first.commit.toString()).setPreparePosition(first.prepare.toString());
      callback(null, new AppendResp().setSuccess(new AppendResp.Success().setCurrentRevision(last.revision.toString()).setPosition(position)));
    });
  };

  private readonly batchAppendCall = (call: ServerDuplexStream<BatchAppendReq, BatchAppendResp>): void => {
    const pending = new Map<string, { options?: BatchAppendReq.Options; messages: BatchAppendReq.ProposedMessage[] }>();
    call.on('data', (request: BatchAppendReq) => {
      const correlation = request.getCorrelationId()?.getString() ?? '';
      const batch = pending.get(correlation) ?? { messages: [] };
      pending.set(correlation, batch);
      if (request.hasOptions()) batch.options = request.getOptions();
      batch.messages.push(...request.getProposedMessagesList());
      if (!request.getIsFinal()) return;
      pending.delete(correlation);
      const options = batch.options;
      if (!options) return;
      const name = Buffer.from(options.getStreamIdentifier()?.getStreamName_asU8() ?? []).toString('utf8');
      const expected: Expected = options.hasAny()
        ? 'any'
        : options.hasNoStream()
          ? 'no_stream'
          : options.hasStreamExists()
            ? 'stream_exists'
            : BigInt(options.getStreamPosition());
      const outcome = this.tryAppend(name, expected, batch.messages);
      const response = new BatchAppendResp().setCorrelationId(new UUID().setString(correlation)).setStreamIdentifier(identifier(name));
      if (outcome.kind === 'ok') {
        const first = outcome.written[0];
        const last = outcome.written[outcome.written.length - 1];
        const position = new AllStreamPosition().setCommitPosition(first.commit.toString()).setPreparePosition(first.prepare.toString());
        response.setSuccess(new BatchAppendResp.Success().setCurrentRevision(last.revision.toString()).setPosition(position));
      } else if (outcome.kind === 'deleted') {
        response.setError(errorStatus(new StreamDeleted().setStreamIdentifier(identifier(name)), 'event_store.client.StreamDeleted', 'stream deleted'));
      } else {
        const wrong = new WrongExpectedVersion();
        if (outcome.current === undefined) wrong.setCurrentNoStream(new Empty());
        else wrong.setCurrentStreamRevision(outcome.current.toString());
        if (expected === 'any') wrong.setExpectedAny(new Empty());
        else if (expected === 'no_stream') wrong.setExpectedNoStream(new Empty());
        else if (expected === 'stream_exists') wrong.setExpectedStreamExists(new Empty());
        else wrong.setExpectedStreamPosition(expected.toString());
        response.setError(errorStatus(wrong, 'event_store.client.WrongExpectedVersion', 'wrong expected version'));
      }
      call.write(response);
    });
    call.on('end', () => call.end());
  };

  private tryAppend(
    name: string,
    expected: Expected,
    messages: { getId(): UUID | undefined; getMetadataMap(): { get(key: string): string | undefined }; getData_asU8(): Uint8Array; getCustomMetadata_asU8(): Uint8Array }[],
  ): { kind: 'ok'; written: StoredRecord[] } | { kind: 'wrong'; current: bigint | undefined } | { kind: 'deleted' } {
    if (this.tombstoned.has(name)) return { kind: 'deleted' };
    const records = this.log.filter((r) => r.stream === name);
    const current = records.length === 0 ? undefined : records[records.length - 1].revision;
    const ok =
      expected === 'any' ||
      (expected === 'no_stream' && current === undefined) ||
      (expected === 'stream_exists' && current !== undefined) ||
      (typeof expected === 'bigint' && current === expected);
    if (!ok) return { kind: 'wrong', current };
    const written = this.write(
      name,
      messages.map((m) => ({
        id: m.getId()?.getString() || randomUUID(),
        type: m.getMetadataMap().get('type') ?? '<no-event-type-provided>',
        contentType: m.getMetadataMap().get('content-type') ?? 'application/octet-stream',
        data: m.getData_asU8(),
        customMetadata: m.getCustomMetadata_asU8(),
      })),
    );
    return { kind: 'ok', written };
  }

  /** An implicit transaction: the events share the commit position, each has its own prepare. */
  private write(stream: string, events: Omit<StoredRecord, 'stream' | 'revision' | 'created' | 'commit' | 'prepare'>[]): StoredRecord[] {
    const existing = this.log.filter((r) => r.stream === stream);
    let revision = existing.length === 0 ? 0n : existing[existing.length - 1].revision + 1n;
    const commit = this.nextLogPosition;
    const written = events.map((event) => {
      const record: StoredRecord = { ...event, stream, revision: revision++, created: new Date(), commit, prepare: this.nextLogPosition };
      this.nextLogPosition += 200n;
      return record;
    });
    this.log.push(...written);
    for (const subscription of this.subscriptions) {
      for (const record of written) {
        if (subscription.prefixes.length === 0 || subscription.prefixes.some((p) => record.stream.startsWith(p))) {
          subscription.call.write(readEvent(record, 'known', true));
        }
      }
    }
    return written;
  }
}

type Expected = 'any' | 'no_stream' | 'stream_exists' | bigint;

const identifier = (name: string) => new StreamIdentifier().setStreamName(Buffer.from(name, 'utf8'));

const isAfter = (r: StoredRecord, [commit, prepare]: [bigint, bigint]) => r.commit > commit || (r.commit === commit && r.prepare > prepare);
const isAtOrAfter = (r: StoredRecord, [commit, prepare]: [bigint, bigint]) => r.commit > commit || (r.commit === commit && r.prepare >= prepare);

const readEvent = (record: StoredRecord, how: StreamReadPosition, fromAll: boolean): ReadResp => {
  const recorded = new ReadResp.ReadEvent.RecordedEvent()
    .setId(new UUID().setString(record.id))
    .setStreamIdentifier(identifier(record.stream))
    .setStreamRevision(record.revision.toString())
    .setData(record.data)
    .setCustomMetadata(record.customMetadata);
  if (how === 'known') recorded.setCommitPosition(record.commit.toString()).setPreparePosition(record.prepare.toString());
  if (how === 'unknown') recorded.setCommitPosition(UINT64_MAX.toString()).setPreparePosition(UINT64_MAX.toString());
  recorded.getMetadataMap().set('type', record.type);
  recorded.getMetadataMap().set('content-type', record.contentType);
  recorded.getMetadataMap().set('created', (BigInt(record.created.getTime()) * TICKS_PER_MS).toString());
  const event = new ReadResp.ReadEvent().setEvent(recorded);
  if (fromAll) event.setCommitPosition(record.commit.toString());
  else event.setNoPosition(new Empty());
  return new ReadResp().setEvent(event);
};

/** How the server refuses a request on a tombstoned stream (RpcExceptions.StreamDeleted). */
const streamDeletedStatus = (name: string) => {
  const metadata = new Metadata();
  metadata.set('exception', 'stream-deleted');
  metadata.set('stream-name', name);
  return { code: status.FAILED_PRECONDITION, details: `Event stream '${name}' is deleted.`, metadata };
};

const errorStatus = (detail: { serializeBinary(): Uint8Array }, typeName: string, message: string): Status => {
  const details = new Any();
  details.pack(detail.serializeBinary(), typeName);
  return new Status().setCode(Code.FAILED_PRECONDITION).setMessage(message).setDetails(details);
};
