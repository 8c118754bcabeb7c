import { freePort, waitFor } from '@simdeploy/testing';
import { NO_STREAM, StoreUnavailableError } from '../event-store';
import { EsdbEventStore } from './esdb-event-store';

/**
 * The real client against a port where nothing listens: what the adapter does when the
 * server is down needs no server. Its behaviour with a server is the contract suite's.
 */
describe('EsdbEventStore with no server to reach', () => {
  let store: EsdbEventStore;

  beforeEach(async () => {
    const port = await freePort();
    store = new EsdbEventStore({
      connectionString: `esdb://127.0.0.1:${port}?tls=false&defaultDeadline=2000`,
      resubscribeBackoff: { initialMs: 10, maxMs: 50 },
    });
  });

  afterEach(() => store.close());

  it('append fails with StoreUnavailableError', async () => {
    await expect(store.append('d1', [{ type: 'Tick', data: {} }], NO_STREAM)).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('readStream and readAll fail with StoreUnavailableError', async () => {
    await expect(store.readStream('d1')).rejects.toBeInstanceOf(StoreUnavailableError);
    await expect(store.readAll({ from: 'start' })).rejects.toBeInstanceOf(StoreUnavailableError);
  });

  it('ping answers false', async () => {
    await expect(store.ping()).resolves.toBe(false);
  });

  it('a subscription keeps retrying, reporting each drop, until closed', async () => {
    const drops: unknown[] = [];
    const retrying = new EsdbEventStore({
      connectionString: `esdb://127.0.0.1:${await freePort()}?tls=false`,
      resubscribeBackoff: { initialMs: 10, maxMs: 50 },
      onSubscriptionDrop: (error) => drops.push(error),
    });
    const subscription = retrying.subscribeToAll({ from: 'start' });
    let received = 0;
    const done = (async () => {
      for await (const _event of subscription) received++;
    })();
    await waitFor(() => drops.length >= 3, { description: 'three reported drops' });
    await retrying.close();
    await done;
    expect(received).toBe(0);
    expect(drops[0]).toBeInstanceOf(StoreUnavailableError);
  });

  it('refuses an append of no events rather than guessing a revision', async () => {
    await expect(store.append('d1', [], NO_STREAM)).rejects.toThrow('at least one event');
  });
});
