import { Kysely, Migration, MigrationProvider, sql } from 'kysely';

export type SqlDialectName = 'sqlite' | 'postgres';

/** One row per deployment: the columns lists filter and sort on, and the folded state as JSON. */
export interface DeploymentsTable {
  id: string;
  owner: string;
  /** The owner's team when teams are configured (TEAM_CLAIM); its members see the row. */
  team: string | null;
  status: string;
  error_status: string | null;
  requested_at: string;
  updated_at: string;
  /** The store position of the last event folded into `state`. */
  position: string;
  state: string;
}

/** Labels are fixed at request time; a row per label, ordered like deployments for label-driven pages. */
export interface DeploymentLabelsTable {
  deployment_id: string;
  key: string;
  value: string;
  requested_at: string;
}

/** How many deployments each owner (and team, `''` for none) has per status and error status (`''` for none): totals without a scan. */
export interface DeploymentCountsTable {
  owner: string;
  team: string;
  status: string;
  error_status: string;
  n: number;
}

/**
 * One row per machine a deployment ran, launched to terminated as the events record them
 * (the rules of the domain's `instanceIntervals`). The times are kept twice: ISO text to read,
 * and epoch milliseconds that the usage aggregate sums in the same SQL on SQLite and PostgreSQL.
 */
export interface InstanceUsageTable {
  deployment_id: string;
  owner: string;
  team: string | null;
  provider: string;
  instance_type: string;
  instance_id: string;
  launched_at: string;
  terminated_at: string | null;
  /** PostgreSQL hands a bigint back as a string. */
  launched_ms: number | string;
  terminated_ms: number | string | null;
}

export interface ProjectionCheckpointTable {
  name: string;
  position: string | null;
  updated_at: string;
}

export interface ReadModelDatabase {
  deployments: DeploymentsTable;
  deployment_labels: DeploymentLabelsTable;
  deployment_counts: DeploymentCountsTable;
  instance_usage: InstanceUsageTable;
  projection_checkpoint: ProjectionCheckpointTable;
}

/** The row of projection_checkpoint the deployments projection commits with. */
export const DEPLOYMENTS_PROJECTION = 'deployments';

/**
 * Versioned migrations, applied in name order at start by Kysely's Migrator (which records
 * them in kysely_migration and serialises concurrent starts with a lock). Later read models
 * (status intervals, machine usage for the audits) come as further entries here, each filled
 * by the same projector in the same batch transaction.
 */
export function migrations(dialect: SqlDialectName): Record<string, Migration> {
  // Keys and times compare as bytes, as the in-memory adapter and the cursor expect, whatever
  // collation the PostgreSQL database was created with.
  const key = dialect === 'postgres' ? sql`text collate "C"` : sql`text`;
  const millis = dialect === 'postgres' ? sql`bigint` : sql`integer`;
  return {
    '0001_deployments': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('deployments')
          .addColumn('id', key, (c) => c.primaryKey())
          .addColumn('owner', key, (c) => c.notNull())
          .addColumn('status', key, (c) => c.notNull())
          .addColumn('error_status', key)
          .addColumn('requested_at', key, (c) => c.notNull())
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .addColumn('position', 'text', (c) => c.notNull())
          .addColumn('state', 'text', (c) => c.notNull())
          .execute();
        // One index per list the API serves: everything, by owner, by status, by both, by error status.
        await db.schema.createIndex('deployments_by_time').on('deployments').columns(['requested_at desc', 'id']).execute();
        await db.schema.createIndex('deployments_by_owner').on('deployments').columns(['owner', 'requested_at desc', 'id']).execute();
        await db.schema.createIndex('deployments_by_status').on('deployments').columns(['status', 'requested_at desc', 'id']).execute();
        await db.schema
          .createIndex('deployments_by_owner_status')
          .on('deployments')
          .columns(['owner', 'status', 'requested_at desc', 'id'])
          .execute();
        await db.schema
          .createIndex('deployments_by_error_status')
          .on('deployments')
          .columns(['error_status', 'requested_at desc', 'id'])
          .execute();

        await db.schema
          .createTable('deployment_labels')
          .addColumn('deployment_id', key, (c) => c.notNull())
          .addColumn('key', key, (c) => c.notNull())
          .addColumn('value', key, (c) => c.notNull())
          .addColumn('requested_at', key, (c) => c.notNull())
          .addPrimaryKeyConstraint('deployment_labels_pk', ['deployment_id', 'key'])
          .execute();
        await db.schema
          .createIndex('deployment_labels_by_pair')
          .on('deployment_labels')
          .columns(['key', 'value', 'requested_at desc', 'deployment_id'])
          .execute();

        await db.schema
          .createTable('deployment_counts')
          .addColumn('owner', key, (c) => c.notNull())
          .addColumn('status', key, (c) => c.notNull())
          .addColumn('error_status', key, (c) => c.notNull())
          .addColumn('n', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('deployment_counts_pk', ['owner', 'status', 'error_status'])
          .execute();

        await db.schema
          .createTable('projection_checkpoint')
          .addColumn('name', key, (c) => c.primaryKey())
          .addColumn('position', 'text')
          .addColumn('updated_at', 'text', (c) => c.notNull())
          .execute();
        await (db as Kysely<ReadModelDatabase>)
          .insertInto('projection_checkpoint')
          .values({ name: DEPLOYMENTS_PROJECTION, position: null, updated_at: new Date(0).toISOString() })
          .execute();
      },
    },
    // Teams (TEAM_CLAIM): a team column members' lists filter on, and tallies by team as well,
    // refilled from the rows (the team is fixed at request time; older rows have none).
    '0002_deployments_team': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('deployments').addColumn('team', key).execute();
        await db.schema.createIndex('deployments_by_team').on('deployments').columns(['team', 'requested_at desc', 'id']).execute();
        await db.schema.dropTable('deployment_counts').execute();
        await db.schema
          .createTable('deployment_counts')
          .addColumn('owner', key, (c) => c.notNull())
          .addColumn('team', key, (c) => c.notNull())
          .addColumn('status', key, (c) => c.notNull())
          .addColumn('error_status', key, (c) => c.notNull())
          .addColumn('n', 'integer', (c) => c.notNull())
          .addPrimaryKeyConstraint('deployment_counts_pk', ['owner', 'team', 'status', 'error_status'])
          .execute();
        await sql`
          insert into deployment_counts (owner, team, status, error_status, n)
          select owner, coalesce(team, ''), status, coalesce(error_status, ''), count(*)
          from deployments group by owner, coalesce(team, ''), status, coalesce(error_status, '')
        `.execute(db);
      },
    },
    // Machine usage (GET /usage): the intervals need the launch and termination times, which
    // the folded rows do not hold, so they cannot be filled from the rows. A read model that
    // holds deployments already is emptied here, checkpoint included, and the projector refills
    // all of it from the events when the gateway starts (it is ready once it has caught up).
    '0003_instance_usage': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('instance_usage')
          .addColumn('deployment_id', key, (c) => c.notNull())
          .addColumn('owner', key, (c) => c.notNull())
          .addColumn('team', key)
          .addColumn('provider', key, (c) => c.notNull())
          .addColumn('instance_type', key, (c) => c.notNull())
          .addColumn('instance_id', key, (c) => c.notNull())
          .addColumn('launched_at', 'text', (c) => c.notNull())
          .addColumn('terminated_at', 'text')
          .addColumn('launched_ms', millis, (c) => c.notNull())
          .addColumn('terminated_ms', millis)
          .addPrimaryKeyConstraint('instance_usage_pk', ['deployment_id', 'instance_id'])
          .execute();
        await db.schema.createIndex('instance_usage_by_launch').on('instance_usage').columns(['launched_ms']).execute();
        await db.schema.createIndex('instance_usage_by_owner').on('instance_usage').columns(['owner', 'launched_ms']).execute();
        await db.schema.createIndex('instance_usage_by_team').on('instance_usage').columns(['team', 'launched_ms']).execute();
        const rm = db as Kysely<ReadModelDatabase>;
        const held = await rm.selectFrom('deployments').select('id').limit(1).executeTakeFirst();
        if (held) {
          await rm.deleteFrom('deployment_labels').execute();
          await rm.deleteFrom('deployment_counts').execute();
          await rm.deleteFrom('deployments').execute();
          await rm.updateTable('projection_checkpoint').set({ position: null, updated_at: new Date().toISOString() }).where('name', '=', DEPLOYMENTS_PROJECTION).execute();
        }
      },
    },
  };
}

export const migrationProvider = (dialect: SqlDialectName): MigrationProvider => ({
  getMigrations: async () => migrations(dialect),
});
