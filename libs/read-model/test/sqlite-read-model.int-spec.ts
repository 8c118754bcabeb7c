import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SimDeployment, Status } from '@simdeploy/domain';
import { lifecycle } from '@simdeploy/testing';
import Database from 'better-sqlite3';
import { Kysely, Migrator, SqliteDialect, sql } from 'kysely';
import { randomUUID } from 'node:crypto';
import { openReadModel } from '../src/sql/open';
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

      const readModel = await openReadModel(`sqlite:${path}`);
      await readModel.migrate();
      expect(await readModel.count({ owner: 'alice', statuses: [Status.Running] })).toBe(1);
      expect(await readModel.count({ visibleTo: { owner: 'alice', team: 'robotics' } })).toBe(1);
      expect((await readModel.list({ limit: 5, visibleTo: { owner: 'alice' } })).items.map((s) => s.id)).toEqual([id]);
      await readModel.close();
    } finally {
      await fs.rm(dir, { recursive: true, force: true });
    }
  });
});
