import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimDeployment, Status, instanceIntervals, machineSeconds } from '@simdeploy/domain';
import { lifecycle } from '@simdeploy/testing';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { openReadModel } from '../src/sql/open';
import { applyBatch } from '../src/projection';
import { ReadModelDatabase, migrationProvider } from '../src/sql/schema';
import { FakeFeed, describeReadModelContract } from './support/read-model-contract';

describeReadModelContract('SQLite', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-rm-'));
  const readModel = await openReadModel(`sqlite:${join(dir, 'read-model.sqlite')}`);
  return {
    readModel,
    async teardown() {
      await readModel.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});

describe('an SQLite read model made before teams', () => {
  it('keeps its rows and tallies through the team migration', async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-rm-'));
    const path = join(dir, 'read-model.sqlite');
    try {
      const old = new Kysely<ReadModelDatabase>({ dialect: new SqliteDialect({ database: new Database(path) }) });
      const { error } = await new Migrator({ db: old, provider: migrationProvider('sqlite') }).migrateTo('0001_deployments');
      expect(error).toBeUndefined();
      const feed = new FakeFeed();
      const id = randomUUID();
      const events = feed.record(id, lifecycle({ id, owner: 'alice', requestedAt: Date.parse('2026-03-01T00:00:00Z'), outcome: 'running' }));
      const state = feed.folded(id) as SimDeployment;
      await sql`insert into deployments (id, owner, status, error_status, requested_at, updated_at, position, state)
        values (${id}, 'alice', ${state.status}, null, ${state.requestedAt}, ${state.updatedAt}, ${events[events.length - 1]?.position}, ${JSON.stringify(state)})`.execute(old);
      await sql`insert into deployment_counts (owner, status, error_status, n) values ('alice', ${state.status}, '', 1)`.execute(old);
      await old.destroy();

      // Up to the team migration only: the next one (machine usage) empties the model for a refill.
      const upgraded = new Kysely<ReadModelDatabase>({ dialect: new SqliteDialect({ database: new Database(path) }) });
      expect((await new Migrator({ db: upgraded, provider: migrationProvider('sqlite') }).migrateTo('0002_deployments_team')).error).toBeUndefined();
      expect(await upgraded.selectFrom('deployment_counts').selectAll().execute()).toEqual([{ owner: 'alice', team: '', status: Status.Running, error_status: '', n: 1 }]);
      expect(await upgraded.selectFrom('deployments').select(['id', 'team']).execute()).toEqual([{ id, team: null }]);
      await upgraded.destroy();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});

describe('an SQLite read model made before machine usage', () => {
  it('is emptied by the usage migration, and the projection refills it, usage included, from the events', async () => {
    const dir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-rm-'));
    const path = join(dir, 'read-model.sqlite');
    try {
      const old = new Kysely<ReadModelDatabase>({ dialect: new SqliteDialect({ database: new Database(path) }) });
      const { error } = await new Migrator({ db: old, provider: migrationProvider('sqlite') }).migrateTo('0002_deployments_team');
      expect(error).toBeUndefined();
      const feed = new FakeFeed();
      const id = randomUUID();
      const events = feed.record(id, lifecycle({ id, owner: 'alice', requestedAt: Date.parse('2026-03-01T00:00:00Z'), outcome: 'finished', stepMs: 60_000 }));
      const state = feed.folded(id) as SimDeployment;
      const last = events[events.length - 1]?.position as string;
      await sql`insert into deployments (id, owner, team, status, error_status, requested_at, updated_at, position, state)
        values (${id}, 'alice', null, ${state.status}, null, ${state.requestedAt}, ${state.updatedAt}, ${last}, ${JSON.stringify(state)})`.execute(old);
      await sql`insert into deployment_counts (owner, team, status, error_status, n) values ('alice', '', ${state.status}, '', 1)`.execute(old);
      await sql`update projection_checkpoint set position = ${last}`.execute(old);
      await old.destroy();

      const readModel = await openReadModel(`sqlite:${path}`);
      try {
        await readModel.migrate();
        // Emptied: the projector starts again from the first event.
        expect(await readModel.checkpoint()).toBeNull();
        expect(await readModel.count({})).toBe(0);
        expect(await readModel.get(id)).toBeNull();

        await readModel.transaction((tx) => applyBatch(tx, events));
        expect(await readModel.get(id)).toEqual(state);
        expect(await readModel.count({ owner: 'alice', statuses: [Status.Terminated] })).toBe(1);
        const period = { since: '2026-03-01T00:00:00Z', until: '2026-03-02T00:00:00Z', now: '2026-03-02T00:00:00Z' };
        const usage = await readModel.usage(period);
        expect(usage).toEqual(machineSeconds(instanceIntervals(feed.streams.get(id) ?? []), period.since, period.until, period.now));
        // Two machines (simulator and robots), launched at minutes 2 and 3, terminated at minute 11: 9 + 8 minutes.
        expect(usage).toEqual([{ owner: 'alice', instanceType: 'g4dn.xlarge', machineSeconds: 17 * 60, instances: 2 }]);
        await readModel.migrate();
        expect(await readModel.count({})).toBe(1);
      } finally {
        await readModel.close();
      }
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
