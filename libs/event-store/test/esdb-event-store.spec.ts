import { EventStoreDBClient } from '@eventstore/db-client';
import { freePort, waitFor } from '@simdeploy/testing';
import {
  ConcurrencyError,
  NO_STREAM,
  StreamDeletedError,
  StreamTruncatedError,
  UNKNOWN_POSITION,
  comparePositions,
} from '../src/event-store';
import { EsdbEventStore, UnsupportedServerError } from '../src/esdb';
import { drain } from '../src/esdb/drain';
import { FakeEsdbServer } from './support/fake-esdb-server';

/**
 * The adapter with the real 6.2.1 client against a fake node that speaks its gRPC protocol
 * (test/support/fake-esdb-server.ts): what the client hands the adapter is what it makes of
 * real wire messages. The live-server behaviour as a whole is the contract suite's.
 */
let server: FakeEsdbServer;
const stores: EsdbEventStore[] = [];
const clients: EventStoreDBClient[] = [];

beforeEach(async () => {
  server = await FakeEsdbServer.start();
});

afterEach(async () => {
  await Promise.all(stores.splice(0).map((store) => store.close()));
  await Promise.all(clients.splice(0).map((client) => client.dispose()));
  await server.stop();
});

const storeFor = (options: Partial<ConstructorParameters<typeof EsdbEventStore>[0]> = {}): EsdbEventStore => {
  const store = new EsdbEventStore({ connectionString: server.connectionString, ...options });
  stores.push(store);
  return store;
};

const ownClient = (query: string): EventStoreDBClient => {
  const client = EventStoreDBClient.connectionString(`${server.connectionString}&${query}`);
  clients.push(client);
  return client;
};

const tick = (n: number) => ({ type: 'Tick', data: { n } });

describe('an append the server refuses', () => {
  it('refuses a connection string with throwOnAppendFailure=false, naming the option', () => {
    expect(() => new EsdbEventStore({ connectionString: `${server.connectionString}&throwOnAppendFailure=false` })).toThrow(
      /throwOnAppendFailure/,
    );
    expect(() => new EsdbEventStore({ connectionString: `${server.connectionString}&throw_on_append_failure=false` })).toThrow(
      /throwOnAppendFailure/,
    );
  });

  it.each([
    ['BatchAppend', true],
    ['Append', false],
  ])('is a ConcurrencyError even from a client that answers { success: false } (%s)', async (_call, batchAppend) => {
    server.batchAppend = batchAppend;
    const store = storeFor({ client: ownClient('throwOnAppendFailure=false') });
    const first = await store.append('d1', [tick(1)], NO_STREAM);
    await store.append('d1', [tick(2)], first.nextRevision);
    // Another stream's event, so a wrongly "read back" revision has something to find.
    await store.append('d2', [tick(9)], NO_STREAM);

    await expect(store.append('d1', [tick(3)], first.nextRevision)).rejects.toBeInstanceOf(ConcurrencyError);
    await expect(store.append('d1', [tick(3)], NO_STREAM)).rejects.toBeInstanceOf(ConcurrencyError);
    expect((await store.readStream('d1')).events.map((e) => (e.data as { n: number }).n)).toEqual([1, 2]);
  });
});

describe('connection-string options the adapter cannot work with', () => {
  it.each(['follower', 'random', 'readOnlyReplica'])('refuses nodePreference=%s, naming the option', (preference) => {
    expect(() => new EsdbEventStore({ connectionString: `${server.connectionString}&nodePreference=${preference}` })).toThrow(/nodePreference/);
  });

  it('accepts nodePreference=leader, and never echoes the string (it may hold a password)', () => {
    expect(() => storeFor({ connectionString: `esdb://admin:s3cret@127.0.0.1:${server.port}?tls=false&nodePreference=leader` })).not.toThrow();
    expect(() => new EsdbEventStore({ connectionString: `esdb://admin:s3cret@127.0.0.1:${server.port}?tls=false&throwOnAppendFailure=false` })).toThrow(
      expect.objectContaining({ message: expect.not.stringContaining('s3cret') }),
    );
  });
});

describe('events whose $all position the server does not report', () => {
  it.each([
    ['fields left out, so the getters answer "0" (servers before 22.6)', 'unset'],
    ['2^64-1 (22.6 and later, e.g. an event of a legacy TCP transaction)', 'unknown'],
  ] as const)('are read from their stream with UNKNOWN_POSITION: %s', async (_how, how) => {
    const store = storeFor();
    await store.append('d1', [tick(1), tick(2)], NO_STREAM);
    server.reportStreamReadPositions('SimDeployment-d1', how);

    const read = await store.readStream('d1');
    expect(read.revision).toBe('1');
    expect(read.events.map((e) => [e.revision, e.position, (e.data as { n: number }).n])).toEqual([
      ['0', UNKNOWN_POSITION, 1],
      ['1', UNKNOWN_POSITION, 2],
    ]);
    // Before every real position: resuming from it replays, it never skips.
    const [real] = await store.readAll({ from: 'start', limit: 1 });
    expect(comparePositions(UNKNOWN_POSITION, real.position)).toBeLessThan(0);
  });

  it.each(['unset', 'unknown'] as const)('fail an append whose read-back has none (%s), rather than answer a position that is not its own', async (how) => {
    const store = storeFor();
    server.reportStreamReadPositions('SimDeployment-d1', how);
    await expect(store.append('d1', [tick(1)], NO_STREAM)).rejects.toThrow(/did not report the \$all position of SimDeployment-d1@0/);
  });
});

describe('reads the adapter stops using', () => {
  it('are cancelled when the code reading them throws, so the call does not stay open', async () => {
    server.holdReadsOpen = true;
    const store = storeFor();
    await store.append('d1', [tick(1), tick(2), tick(3)], NO_STREAM);
    const client = ownClient('defaultDeadline=5000');
    await expect(
      drain(client.readStream('SimDeployment-d1'), () => {
        throw new Error('cannot use this event');
      }),
    ).rejects.toThrow('cannot use this event');
    await waitFor(() => server.reads.at(-1)?.ended === 'cancelled', { description: 'the server sees the read cancelled', timeoutMs: 5_000 });
  });

  it('are cancelled when ping gives up waiting', async () => {
    server.hangBackwardReads = true;
    const store = storeFor({ pingTimeoutMs: 200 });
    await expect(store.ping()).resolves.toBe(false);
    const ping = server.reads.find((read) => read.kind === 'all');
    expect(ping).toBeDefined();
    await waitFor(() => ping?.ended === 'cancelled', { description: 'the server sees the ping read cancelled', timeoutMs: 5_000 });
  });
});

describe('a deleted (tombstoned) stream', () => {
  it.each([
    ['BatchAppend', true],
    ['Append', false],
  ])('reads and appends fail with the port StreamDeletedError naming the deployment (%s)', async (_call, batchAppend) => {
    server.batchAppend = batchAppend;
    const store = storeFor();
    await store.append('d1', [tick(1)], NO_STREAM);
    server.tombstone('SimDeployment-d1');

    const read = store.readStream('d1');
    await expect(read).rejects.toBeInstanceOf(StreamDeletedError);
    await expect(read).rejects.toMatchObject({ code: 'STREAM_DELETED', streamId: 'd1' });
    const append = store.append('d1', [tick(2)], '0');
    await expect(append).rejects.toBeInstanceOf(StreamDeletedError);
    await expect(append).rejects.toMatchObject({ code: 'STREAM_DELETED', streamId: 'd1' });
  });
});

describe('a truncated stream ($tb, $maxCount, $maxAge)', () => {
  it('is not read as a shorter history: the read fails with StreamTruncatedError', async () => {
    const store = storeFor();
    await store.append('d1', [tick(0), tick(1), tick(2)], NO_STREAM);
    server.truncateBefore('SimDeployment-d1', 2n);

    const read = store.readStream('d1');
    await expect(read).rejects.toBeInstanceOf(StreamTruncatedError);
    await expect(read).rejects.toMatchObject({ code: 'STREAM_TRUNCATED', streamId: 'd1', firstAvailable: '2' });
    // A cached reader catching up from before the cut is refused too.
    await expect(store.readStream('d1', { after: '0' })).rejects.toBeInstanceOf(StreamTruncatedError);
    await expect(store.readStream('d1', { after: '1' })).resolves.toMatchObject({ revision: '2' });
  });

  // A command handler retries only on ConcurrencyError: with this it stops at once instead of
  // re-reading "no stream" and conflicting until it gives up on contention.
  it('that reads as missing makes the first append fail with StreamTruncatedError, not a conflict', async () => {
    const store = storeFor();
    await store.append('d1', [tick(0), tick(1), tick(2)], NO_STREAM);
    server.truncateBefore('SimDeployment-d1', 3n);
    expect(await store.readStream('d1')).toEqual({ events: [], revision: null });

    const append = store.append('d1', [tick(3)], NO_STREAM);
    await expect(append).rejects.toBeInstanceOf(StreamTruncatedError);
    await expect(append).rejects.toMatchObject({ streamId: 'd1', firstAvailable: null });
    expect(server.log.filter((r) => r.stream === 'SimDeployment-d1')).toHaveLength(3);
  });

  it('still tells a real race from a truncation: a stream created meanwhile is a ConcurrencyError', async () => {
    const store = storeFor();
    await store.append('d1', [tick(0)], NO_STREAM);
    await expect(store.append('d1', [tick(1)], NO_STREAM)).rejects.toBeInstanceOf(ConcurrencyError);
  });
});

describe('close()', () => {
  it('resolves and disposes the client even when a subscription cannot unsubscribe (cluster discovery failed)', async () => {
    const [a, b] = [await freePort(), await freePort()];
    // Two seeds make the client discover the cluster by gossip, which fails: nothing listens.
    const store = new EsdbEventStore({
      connectionString: `esdb://127.0.0.1:${a},127.0.0.1:${b}?tls=false&maxDiscoverAttempts=3&discoveryInterval=100&gossipTimeout=1`,
      resubscribeBackoff: { initialMs: 3_600_000 },
    });
    const dispose = jest.spyOn(store['client'], 'dispose');
    const subscription = store.subscribeToAll({ from: 'start' });
    const ended = subscription[Symbol.asyncIterator]().next();
    await expect(store.close()).resolves.toBeUndefined();
    expect(dispose).toHaveBeenCalledTimes(1);
    await expect(ended).resolves.toMatchObject({ done: true });
  });
});

describe('the server version', () => {
  it.each(['24.2.0', '24.10.0', '25.0.1'])('%s is supported', async (version) => {
    server.version = version;
    const store = storeFor();
    await store.append('d1', [tick(1)], NO_STREAM);
    await expect(store.ping()).resolves.toBe(true);
  });

  it.each([
    ['22.10.3', /EventStoreDB 22\.10\.3 is not supported.*24\.x or later/],
    ['23.10.1', /EventStoreDB 23\.10\.1 is not supported/],
    [null, /did not report its version/],
  ])('%s is refused with a clear error, before anything is read or written', async (version, message) => {
    server.seed('SimDeployment-d1', [{ type: 'Tick' }]);
    server.version = version;
    const drops: unknown[] = [];
    const store = storeFor({ onSubscriptionDrop: (error) => drops.push(error), resubscribeBackoff: { initialMs: 10, maxMs: 20 } });

    await expect(store.append('d1', [tick(2)], '0')).rejects.toThrow(message);
    await expect(store.append('d1', [tick(2)], '0')).rejects.toBeInstanceOf(UnsupportedServerError);
    await expect(store.readStream('d1')).rejects.toThrow(message);
    await expect(store.readAll({ from: 'start' })).rejects.toThrow(message);
    await expect(store.ping()).resolves.toBe(false);

    const subscription = store.subscribeToAll({ from: 'start' });
    const received: unknown[] = [];
    const done = (async () => {
      for await (const event of subscription) received.push(event);
    })();
    await waitFor(() => drops.length >= 2, { description: 'two reported drops' });
    await subscription.close();
    await done;
    expect(received).toEqual([]);
    expect(drops[0]).toBeInstanceOf(UnsupportedServerError);
    expect(server.log).toHaveLength(1);
    expect(server.reads).toEqual([]);
  });
});
