import { EventStoreDBClient } from '@eventstore/db-client';
import { NO_STREAM, StreamDeletedError, StreamTruncatedError } from '../src/event-store';
import { EsdbEventStore } from '../src/esdb';
import { describeEventStoreContract, newDeploymentId } from '../src/testing/event-store-contract';

// EventStoreDB cannot run on the CI machine: the suite runs only against a server named by
// ESDB_CONNECTION_STRING (e.g. esdb://admin:changeit@127.0.0.1:2113?tls=false) and is
// reported as skipped otherwise. It writes to fresh SimDeployment-t-<random> streams only.
const connectionString = process.env['ESDB_CONNECTION_STRING'];
const skipReason = connectionString ? null : 'set ESDB_CONNECTION_STRING to run it against a live server';

describeEventStoreContract(
  'EventStoreDB',
  async () => {
    if (!connectionString) return null;
    const store = new EsdbEventStore({ connectionString });
    return { store, newStreamId: newDeploymentId, teardown: () => store.close() };
  },
  { skipReason },
);

// What only EventStoreDB can do to a stream, checked against the server itself.
(connectionString ? describe : describe.skip)(`EventStoreDB streams deleted or truncated on the server${skipReason ? ` (skipped: ${skipReason})` : ''}`, () => {
  let client: EventStoreDBClient;
  let store: EsdbEventStore;
  const tick = (n: number) => ({ type: 'Tick', data: { n } });

  beforeAll(() => {
    client = EventStoreDBClient.connectionString(connectionString ?? '');
    store = new EsdbEventStore({ client });
  });
  afterAll(async () => {
    await store.close();
    await client.dispose();
  });

  it('a tombstoned stream fails reads and appends with StreamDeletedError', async () => {
    const id = newDeploymentId();
    const appended = await store.append(id, [tick(0)], NO_STREAM);
    await client.tombstoneStream(`SimDeployment-${id}`);
    await expect(store.readStream(id)).rejects.toBeInstanceOf(StreamDeletedError);
    await expect(store.append(id, [tick(1)], appended.nextRevision)).rejects.toBeInstanceOf(StreamDeletedError);
  });

  it('a stream truncated by $tb fails reads, and its first append once nothing is left to read', async () => {
    const id = newDeploymentId();
    await store.append(id, [tick(0), tick(1), tick(2)], NO_STREAM);
    await client.setStreamMetadata(`SimDeployment-${id}`, { truncateBefore: 2 });
    await expect(store.readStream(id)).rejects.toMatchObject({ name: 'StreamTruncatedError', firstAvailable: '2' });

    await client.setStreamMetadata(`SimDeployment-${id}`, { truncateBefore: 3 });
    expect((await store.readStream(id)).revision).toBeNull();
    await expect(store.append(id, [tick(3)], NO_STREAM)).rejects.toBeInstanceOf(StreamTruncatedError);
  });
});

if (!connectionString) it.todo('EventStoreDB contract suite skipped: set ESDB_CONNECTION_STRING to run it against a live server');
