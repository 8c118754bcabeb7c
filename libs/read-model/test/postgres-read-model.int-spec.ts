import { SimDeployment, instanceIntervals, machineSeconds } from '@simdeploy/domain';
import { lifecycle } from '@simdeploy/testing';
import { Kysely, Migrator, PostgresDialect, sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import pg from 'pg';
import { applyBatch } from '../src/projection';
import { openReadModel } from '../src/sql/open';
import { ReadModelDatabase, migrationProvider } from '../src/sql/schema';
import { createTestDatabase, postgresUnavailableSync } from './support/postgres-test-database';
import { FakeFeed, describeReadModelContract } from './support/read-model-contract';

const skipReason = postgresUnavailableSync() ?? undefined;
if (skipReason) process.stderr.write(`PostgreSQL read model contract skipped: ${skipReason}\n`);

describeReadModelContract(
  'PostgreSQL',
  async () => {
    const database = await createTestDatabase();
    const readModel = await openReadModel(database.url);
    return {
      readModel,
      async teardown() {
        await readModel.close();
        await database.drop();
      },
    };
  },
  skipReason ? { skipReason } : {},
);

const describePg = skipReason ? describe.skip : describe;

describePg('a PostgreSQL read model made before machine usage', () => {
  it('is emptied by the usage migration, and the projection refills it, usage included, from the events', async () => {
    const database = await createTestDatabase();
    try {
      const pool = new pg.Pool({ connectionString: database.url, max: 1 });
      const old = new Kysely<ReadModelDatabase>({ dialect: new PostgresDialect({ pool }) });
      expect((await new Migrator({ db: old, provider: migrationProvider('postgres') }).migrateTo('0002_deployments_team')).error).toBeUndefined();
      const feed = new FakeFeed();
      const id = randomUUID();
      const events = feed.record(id, lifecycle({ id, owner: 'alice', team: 'robotics', requestedAt: Date.parse('2026-03-01T00:00:00Z'), outcome: 'running', stepMs: 60_000 }));
      const state = feed.folded(id) as SimDeployment;
      const last = events[events.length - 1]?.position as string;
      await sql`insert into deployments (id, owner, team, status, error_status, requested_at, updated_at, position, state)
        values (${id}, 'alice', 'robotics', ${state.status}, null, ${state.requestedAt}, ${state.updatedAt}, ${last}, ${JSON.stringify(state)})`.execute(old);
      await sql`update projection_checkpoint set position = ${last}`.execute(old);
      await old.destroy();

      const readModel = await openReadModel(database.url);
      try {
        await readModel.migrate();
        expect(await readModel.checkpoint()).toBeNull();
        expect(await readModel.count({})).toBe(0);
        await readModel.transaction((tx) => applyBatch(tx, events));
        expect(await readModel.get(id)).toEqual(state);
        // Still running: two machines launched at minutes 2 and 3, counted to now (minute 60).
        const usage = await readModel.usage({ since: '2026-03-01T00:00:00Z', until: '2026-03-02T00:00:00Z', now: '2026-03-01T01:00:00Z', team: 'robotics' });
        expect(usage).toEqual([{ owner: 'alice', instanceType: 'g4dn.xlarge', machineSeconds: (58 + 57) * 60, instances: 2 }]);
        expect(usage).toEqual(machineSeconds(instanceIntervals(feed.streams.get(id) ?? []), '2026-03-01T00:00:00Z', '2026-03-02T00:00:00Z', '2026-03-01T01:00:00Z'));
      } finally {
        await readModel.close();
      }
    } finally {
      await database.drop();
    }
  }, 60_000);
});
