import { InMemoryEventStore, NO_STREAM } from '@simdeploy/event-store';
import { lifecycle, waitFor } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { ProjectionFreshness } from '../src/freshness';
import { InMemoryReadModel } from '../src/in-memory-read-model';
import { Projector, batches } from '../src/projector';
import { ReadModel } from '../src/read-model';
import { openReadModel } from '../src/sql/open';
import { createTestDatabase, postgresUnavailableSync } from './support/postgres-test-database';

const T0 = Date.parse('2026-05-01T00:00:00Z');

async function seed(store: InMemoryEventStore, n: number): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < n; i++) {
    const id = randomUUID();
    ids.push(id);
    await store.append(id, lifecycle({ id, owner: 'alice', requestedAt: T0 + i * 1000 }), NO_STREAM);
  }
  return ids;
}

describe('batches', () => {
  it('cuts a feed by size, and by time after the first event, losing nothing', async () => {
    async function* feed() {
      for (let i = 0; i < 5; i++) yield i;
      await new Promise((resolve) => setTimeout(resolve, 60));
      yield 5;
    }
    const out: number[][] = [];
    for await (const batch of batches(feed(), 2, 20)) out.push(batch);
    expect(out).toEqual([[0, 1], [2, 3], [4], [5]]);
  });
});

describe('ProjectionFreshness', () => {
  it('is ready only once the projection reaches the head as of its start, and waits for a given write', async () => {
    const store = new InMemoryEventStore();
    const readModel = new InMemoryReadModel();
    await seed(store, 50);
    const projector = new Projector(store, readModel, { batchSize: 10 });
    const freshness = new ProjectionFreshness(store, readModel, projector, { pollMs: 5, headCheckMs: 5 });
    freshness.start();
    // Nothing projects yet: not ready, however long one asks.
    expect(await freshness.whenReady(100)).toBe(false);
    projector.start();
    try {
      expect(await freshness.whenReady(5_000)).toBe(true);
      expect(await readModel.count({})).toBe(50);
      const id = randomUUID();
      const { position } = await store.append(id, lifecycle({ id, owner: 'bob', requestedAt: T0 }), NO_STREAM);
      expect(await freshness.caughtUpTo(position, 5_000)).toBe(true);
      expect(await readModel.get(id)).not.toBeNull();
      expect(await freshness.caughtUpTo(String(BigInt(position) + 10n), 50)).toBe(false);
    } finally {
      freshness.stop();
      await projector.stop();
    }
  });
});

const pgSkip = postgresUnavailableSync();

(pgSkip ? describe.skip : describe)('projectors sharing one PostgreSQL read model', () => {
  it('project one at a time; when the active one goes, a standby takes over from its checkpoint', async () => {
    const database = await createTestDatabase();
    const store = new InMemoryEventStore();
    const models: ReadModel[] = [];
    const projectors: Projector[] = [];
    try {
      for (let i = 0; i < 3; i++) {
        const readModel = await openReadModel(database.url);
        await readModel.migrate();
        models.push(readModel);
        projectors.push(new Projector(store, readModel, { standbyPollMs: 100 }));
      }
      await seed(store, 20);
      projectors.forEach((p) => p.start());
      await waitFor(async () => (await models[0]?.count({})) === 20, { description: '20 projected' });
      const active = projectors.filter((p) => p.active);
      expect(active).toHaveLength(1);
      await active[0]?.stop();
      await seed(store, 5);
      await waitFor(async () => (await models[0]?.count({})) === 25, { description: 'a standby projecting' });
      expect(projectors.filter((p) => p.active)).toHaveLength(1);
    } finally {
      await Promise.all(projectors.map((p) => p.stop()));
      await Promise.all(models.map((m) => m.close()));
      await database.drop();
    }
  }, 60_000);
});
