import { InstanceInterval, InstanceIntervalChange, SimDeployment, UsageRow, applyInstanceIntervalChanges, instanceIntervalKey } from '@simdeploy/domain';
import type { Position } from '@simdeploy/event-store';
import { Expression, ExpressionBuilder, Kysely, Migrator, SqlBool, Transaction, sql } from 'kysely';
import {
  DeploymentFilter,
  ListPage,
  ListQuery,
  NO_ERROR,
  countableFromTallies,
  decodeCursor,
  encodeCursor,
} from '../list-query';
import { tallyDeltas } from '../projection';
import { ProjectedChange, ProjectedDeployment, ProjectionTransaction, ProjectorLock, ReadModel, ReadModelUnavailableError } from '../read-model';
import { UsageQuery, usagePeriod } from '../usage-query';
import { DEPLOYMENTS_PROJECTION, ReadModelDatabase, SqlDialectName, migrationProvider, migrations } from './schema';

/** Rows per INSERT: well under SQLite's 32 766 and PostgreSQL's 65 535 bound parameters. */
const ROWS_PER_STATEMENT = 500;

export interface SqlReadModelOptions {
  dialect: SqlDialectName;
  /** Where writes and the migration go. */
  writer?: Kysely<ReadModelDatabase>;
  /** Where queries go (a second connection on SQLite, so reads never queue behind a batch). */
  reader: Kysely<ReadModelDatabase>;
  /** Where the model lives, for messages (never with credentials). */
  describe: string;
  tryLockProjector?: () => Promise<ProjectorLock | null>;
  onClose?: () => Promise<void>;
}

const chunks = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const parseState = (json: string): SimDeployment => JSON.parse(json) as SimDeployment;

type Deployments = ExpressionBuilder<ReadModelDatabase & { d: ReadModelDatabase['deployments'] }, 'd'>;

/**
 * The ReadModel port on SQL, one query code path for SQLite and PostgreSQL through Kysely.
 * Lists are keyset pages over indexes shaped like the list order (requested_at desc, id);
 * the dialect only changes how a connection is opened and how text collates.
 */
export class SqlReadModel extends ReadModel {
  private schemaChecked = false;

  constructor(private readonly options: SqlReadModelOptions) {
    super();
  }

  private get writer(): Kysely<ReadModelDatabase> {
    if (!this.options.writer) throw new ReadModelUnavailableError(`the read model at ${this.options.describe} is open read-only`);
    return this.options.writer;
  }

  async migrate(): Promise<void> {
    const migrator = new Migrator({ db: this.writer, provider: migrationProvider(this.options.dialect) });
    const { error, results } = await migrator.migrateToLatest();
    if (error) {
      const failed = results?.find((r) => r.status === 'Error')?.migrationName;
      throw new ReadModelUnavailableError(
        `migrating the read model at ${this.options.describe}${failed ? ` (${failed})` : ''} failed: ${error instanceof Error ? error.message : String(error)}`,
        { cause: error },
      );
    }
    this.schemaChecked = true;
  }

  /** A reader that does not migrate (the error handler's) waits for the writer to have done it. */
  private async reader(): Promise<Kysely<ReadModelDatabase>> {
    if (this.schemaChecked) return this.options.reader;
    const expected = Object.keys(migrations(this.options.dialect));
    let applied: string[];
    try {
      applied = (await sql<{ name: string }>`select name from kysely_migration`.execute(this.options.reader)).rows.map((r) => r.name);
    } catch (error) {
      throw new ReadModelUnavailableError(`the read model at ${this.options.describe} has no schema yet (the gateway creates it)`, { cause: error });
    }
    const missing = expected.filter((name) => !applied.includes(name));
    if (missing.length > 0) {
      throw new ReadModelUnavailableError(`the read model at ${this.options.describe} lacks migrations ${missing.join(', ')} (the gateway applies them)`);
    }
    this.schemaChecked = true;
    return this.options.reader;
  }

  async checkpoint(): Promise<Position | null> {
    const row = await (await this.reader())
      .selectFrom('projection_checkpoint')
      .select('position')
      .where('name', '=', DEPLOYMENTS_PROJECTION)
      .executeTakeFirst();
    return row?.position ?? null;
  }

  async get(id: string): Promise<SimDeployment | null> {
    const row = await (await this.reader()).selectFrom('deployments').select('state').where('id', '=', id).executeTakeFirst();
    return row ? parseState(row.state) : null;
  }

  async list(query: ListQuery): Promise<ListPage> {
    if (isEmpty(query)) return { items: [], nextCursor: null, ...(query.withTotal || countableFromTallies(query) ? { total: 0 } : {}) };
    const db = await this.reader();
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const labels = Object.entries(query.labels ?? {});
    const [driving, ...others] = labels;
    // With a label, its index drives the page (key, value, requested_at desc, id), so a rare
    // label does not scan every deployment; otherwise the deployments' own indexes do.
    const at = driving ? sql.ref<string>('l.requested_at') : sql.ref<string>('d.requested_at');
    const id = driving ? sql.ref<string>('l.deployment_id') : sql.ref<string>('d.id');

    let q = db.selectFrom('deployments as d').select(['d.state', 'd.requested_at', 'd.id']);
    if (driving) {
      q = q.innerJoin('deployment_labels as l', (join) =>
        join.onRef('l.deployment_id', '=', 'd.id').on('l.key', '=', driving[0]).on('l.value', '=', driving[1]),
      );
    }
    q = q.where((eb) => filterExpression(eb, query, others, at));
    if (after) {
      // `at <= c` is implied by the disjunction; stated alone it bounds the index range scan.
      q = q.where((eb) => eb.and([eb(at, '<=', after.requestedAt), eb.or([eb(at, '<', after.requestedAt), eb(id, '>', after.id)])]));
    }
    q = q.orderBy(sql`${at} desc`).orderBy(sql`${id} asc`).limit(query.limit + 1);
    if (!after && query.offset) q = q.offset(query.offset);
    const rows = await q.execute();

    const page = rows.slice(0, query.limit);
    const last = page[page.length - 1];
    const nextCursor = rows.length > query.limit && last ? encodeCursor({ requestedAt: last.requested_at, id: last.id }) : null;
    const total = query.withTotal || countableFromTallies(query) ? await this.count(query) : undefined;
    return { items: page.map((r) => parseState(r.state)), nextCursor, ...(total === undefined ? {} : { total }) };
  }

  async count(filter: DeploymentFilter): Promise<number> {
    if (isEmpty(filter)) return 0;
    const db = await this.reader();
    if (countableFromTallies(filter)) {
      let q = db.selectFrom('deployment_counts').select((eb) => eb.fn.sum<string | number | null>('n').as('n'));
      if (filter.owner !== undefined) q = q.where('owner', '=', filter.owner);
      if (filter.team !== undefined) q = q.where('team', '=', filter.team);
      const viewer = filter.visibleTo;
      if (viewer) q = q.where((eb) => (viewer.team === undefined ? eb('owner', '=', viewer.owner) : eb.or([eb('owner', '=', viewer.owner), eb('team', '=', viewer.team)])));
      if (filter.statuses) q = q.where('status', 'in', [...filter.statuses]);
      if (filter.errorStatuses) q = q.where('error_status', 'in', filter.errorStatuses.map((e) => (e === NO_ERROR ? '' : e)));
      const row = await q.executeTakeFirst();
      return Number(row?.n ?? 0);
    }
    const labels = Object.entries(filter.labels ?? {});
    const row = await db
      .selectFrom('deployments as d')
      .select((eb) => eb.fn.countAll<string | number>().as('n'))
      .where((eb) => filterExpression(eb, filter, labels, sql.ref<string>('d.requested_at')))
      .executeTakeFirst();
    return Number(row?.n ?? 0);
  }

  async usage(query: UsageQuery): Promise<UsageRow[]> {
    const { since, until, openEnd } = usagePeriod(query);
    const db = await this.reader();
    const ms = (value: number) => sql<number>`cast(${value} as bigint)`;
    // max(launched, since) to min(terminated, until), a machine still running to min(until, now):
    // CASE rather than least/greatest (PostgreSQL) or min/max (SQLite), so one query serves both.
    const end = sql<number>`case when u.terminated_ms is null then ${ms(openEnd)} when u.terminated_ms < ${ms(until)} then u.terminated_ms else ${ms(until)} end`;
    const start = sql<number>`case when u.launched_ms > ${ms(since)} then u.launched_ms else ${ms(since)} end`;
    const lastEnd = sql<number>`coalesce(u.terminated_ms, ${ms(openEnd)})`;
    let q = db
      .selectFrom('instance_usage as u')
      .select(['u.owner', 'u.instance_type'])
      .select((eb) => [eb.fn.sum<string | number>(sql`${end} - ${start}`).as('ms'), eb.fn.countAll<string | number>().as('instances')])
      .where('u.launched_ms', '<', ms(until))
      .where(lastEnd, '>', ms(since))
      .where(lastEnd, '>', sql.ref<number>('u.launched_ms'));
    if (query.owner !== undefined) q = q.where('u.owner', '=', query.owner);
    if (query.team !== undefined) q = q.where('u.team', '=', query.team);
    const viewer = query.visibleTo;
    if (viewer) q = q.where((eb) => (viewer.team === undefined ? eb('u.owner', '=', viewer.owner) : eb.or([eb('u.owner', '=', viewer.owner), eb('u.team', '=', viewer.team)])));
    const rows = await q.groupBy(['u.owner', 'u.instance_type']).orderBy('u.owner').orderBy('u.instance_type').execute();
    return rows.map((r) => ({ owner: r.owner, instanceType: r.instance_type, machineSeconds: Number(r.ms) / 1000, instances: Number(r.instances) }));
  }

  async transaction<T>(work: (tx: ProjectionTransaction) => Promise<T>): Promise<T> {
    return this.writer.transaction().execute((trx) => work(new SqlProjectionTransaction(trx)));
  }

  async tryLockProjector(): Promise<ProjectorLock | null> {
    return this.options.tryLockProjector ? this.options.tryLockProjector() : { held: true, release: async () => undefined };
  }

  async ping(): Promise<boolean> {
    try {
      await sql`select 1`.execute(this.options.reader);
      return true;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.options.onClose?.();
  }
}

/** A filter that keeps nothing (every status negated, say) never reaches SQL as `in ()`. */
const isEmpty = (f: DeploymentFilter): boolean => f.statuses?.length === 0 || f.errorStatuses?.length === 0;

function filterExpression(
  eb: Deployments,
  filter: DeploymentFilter,
  extraLabels: readonly [string, string][],
  at: Expression<string>,
): Expression<SqlBool> {
  const conditions: Expression<SqlBool>[] = [];
  if (filter.owner !== undefined) conditions.push(eb('d.owner', '=', filter.owner));
  if (filter.team !== undefined) conditions.push(eb('d.team', '=', filter.team));
  const viewer = filter.visibleTo;
  if (viewer) {
    conditions.push(viewer.team === undefined ? eb('d.owner', '=', viewer.owner) : eb.or([eb('d.owner', '=', viewer.owner), eb('d.team', '=', viewer.team)]));
  }
  if (filter.statuses) conditions.push(eb('d.status', 'in', [...filter.statuses]));
  if (filter.errorStatuses) {
    const named = filter.errorStatuses.filter((e) => e !== NO_ERROR);
    const none = filter.errorStatuses.includes(NO_ERROR);
    const parts: Expression<SqlBool>[] = [];
    if (named.length > 0) parts.push(eb('d.error_status', 'in', named));
    if (none) parts.push(eb('d.error_status', 'is', null));
    conditions.push(eb.or(parts));
  }
  if (filter.requestedFrom !== undefined) conditions.push(eb(at, '>=', filter.requestedFrom));
  if (filter.requestedTo !== undefined) conditions.push(eb(at, '<', filter.requestedTo));
  for (const [key, value] of extraLabels) {
    conditions.push(
      eb.exists(
        eb
          .selectFrom('deployment_labels as x')
          .select(sql`1`.as('one'))
          .whereRef('x.deployment_id', '=', 'd.id')
          .where('x.key', '=', key)
          .where('x.value', '=', value),
      ),
    );
  }
  return eb.and(conditions);
}

class SqlProjectionTransaction implements ProjectionTransaction {
  constructor(private readonly trx: Transaction<ReadModelDatabase>) {}

  async lockCheckpoint(): Promise<Position | null> {
    // An UPDATE, not a SELECT: it takes the row lock (PostgreSQL) or the write lock (SQLite)
    // before this transaction writes anything.
    const row = await this.trx
      .updateTable('projection_checkpoint')
      .set((eb) => ({ name: eb.ref('name') }))
      .where('name', '=', DEPLOYMENTS_PROJECTION)
      .returning('position')
      .executeTakeFirst();
    if (!row) throw new ReadModelUnavailableError('the read model has no checkpoint row: was it migrated?');
    return row.position;
  }

  async load(ids: readonly string[]): Promise<Map<string, ProjectedDeployment>> {
    const found = new Map<string, ProjectedDeployment>();
    for (const chunk of chunks(ids, ROWS_PER_STATEMENT)) {
      const rows = await this.trx.selectFrom('deployments').select(['id', 'position', 'state']).where('id', 'in', chunk).execute();
      for (const row of rows) found.set(row.id, { state: parseState(row.state), position: row.position });
    }
    return found;
  }

  async write(changes: readonly ProjectedChange[]): Promise<void> {
    for (const chunk of chunks(changes, ROWS_PER_STATEMENT)) {
      await this.trx
        .insertInto('deployments')
        .values(
          chunk.map((c) => ({
            id: c.after.id,
            owner: c.after.owner,
            team: c.after.team ?? null,
            status: c.after.status,
            error_status: c.after.errorStatus,
            requested_at: c.after.requestedAt,
            updated_at: c.after.updatedAt,
            position: c.position,
            state: JSON.stringify(c.after),
          })),
        )
        .onConflict((oc) =>
          oc.column('id').doUpdateSet((eb) => ({
            owner: eb.ref('excluded.owner'),
            team: eb.ref('excluded.team'),
            status: eb.ref('excluded.status'),
            error_status: eb.ref('excluded.error_status'),
            requested_at: eb.ref('excluded.requested_at'),
            updated_at: eb.ref('excluded.updated_at'),
            position: eb.ref('excluded.position'),
            state: eb.ref('excluded.state'),
          })),
        )
        .execute();
    }
    const labels = changes
      .filter((c) => c.before === null)
      .flatMap((c) =>
        Object.entries(c.after.spec.labels ?? {}).map(([key, value]) => ({ deployment_id: c.after.id, key, value, requested_at: c.after.requestedAt })),
      );
    for (const chunk of chunks(labels, ROWS_PER_STATEMENT)) {
      await this.trx
        .insertInto('deployment_labels')
        .values(chunk)
        .onConflict((oc) => oc.columns(['deployment_id', 'key']).doNothing())
        .execute();
    }
    for (const chunk of chunks(tallyDeltas(changes), ROWS_PER_STATEMENT)) {
      await this.trx
        .insertInto('deployment_counts')
        .values(chunk)
        .onConflict((oc) =>
          oc.columns(['owner', 'team', 'status', 'error_status']).doUpdateSet((eb) => ({ n: eb('deployment_counts.n', '+', eb.ref('excluded.n')) })),
        )
        .execute();
    }
    await this.writeInstances(changes.flatMap((c) => c.instances ?? []));
  }

  /**
   * A machine launched in this batch is inserted as the batch leaves it (its ends in the batch
   * applied in memory, by the domain's rule); the ends of machines launched before are one
   * UPDATE per event (a stop's SimulationTerminated ends all of its machines in one). The batch
   * never holds the launch of a machine already in the table: applyBatch skips events a
   * deployment has folded already.
   */
  private async writeInstances(instances: readonly InstanceIntervalChange[]): Promise<void> {
    const launched = new Map<string, InstanceInterval>();
    const ends: { kind: 'terminated' | 'swept'; deploymentId: string; at: string; instanceIds: string[] }[] = [];
    for (const change of instances) {
      if (change.kind === 'launched') {
        applyInstanceIntervalChanges(launched, [change]);
        continue;
      }
      if (launched.has(instanceIntervalKey(change.deploymentId, change.instanceId))) {
        applyInstanceIntervalChanges(launched, [change]);
        continue;
      }
      // Consecutive ends alike come from one event: one statement, and the order of events kept.
      const last = ends[ends.length - 1];
      if (last && last.kind === change.kind && last.deploymentId === change.deploymentId && last.at === change.at) last.instanceIds.push(change.instanceId);
      else ends.push({ kind: change.kind, deploymentId: change.deploymentId, at: change.at, instanceIds: [change.instanceId] });
    }
    for (const chunk of chunks([...launched.values()], ROWS_PER_STATEMENT)) {
      await this.trx
        .insertInto('instance_usage')
        .values(
          chunk.map((i) => ({
            deployment_id: i.deploymentId,
            owner: i.owner,
            team: i.team,
            provider: i.provider,
            instance_type: i.instanceType,
            instance_id: i.instanceId,
            launched_at: i.launchedAt,
            terminated_at: i.terminatedAt,
            launched_ms: Date.parse(i.launchedAt),
            terminated_ms: i.terminatedAt === null ? null : Date.parse(i.terminatedAt),
          })),
        )
        .onConflict((oc) => oc.columns(['deployment_id', 'instance_id']).doNothing())
        .execute();
    }
    // In event order: a termination ends an open interval; the sweep's removal is the later end, whatever came before.
    for (const end of ends) {
      const at = Date.parse(end.at);
      await this.trx
        .updateTable('instance_usage')
        .set({ terminated_at: end.at, terminated_ms: at })
        .where('deployment_id', '=', end.deploymentId)
        .where('instance_id', 'in', end.instanceIds)
        .where((eb) => (end.kind === 'terminated' ? eb('terminated_ms', 'is', null) : eb.or([eb('terminated_ms', 'is', null), eb('terminated_ms', '<', at)])))
        .execute();
    }
  }

  async setCheckpoint(position: Position): Promise<void> {
    await this.trx
      .updateTable('projection_checkpoint')
      .set({ position, updated_at: new Date().toISOString() })
      .where('name', '=', DEPLOYMENTS_PROJECTION)
      .execute();
  }

  async reset(): Promise<void> {
    // DELETE rather than TRUNCATE: readers keep their snapshot of the old projection until the
    // rebuild commits, instead of waiting on an exclusive lock.
    await this.trx.deleteFrom('deployment_labels').execute();
    await this.trx.deleteFrom('deployment_counts').execute();
    await this.trx.deleteFrom('instance_usage').execute();
    await this.trx.deleteFrom('deployments').execute();
    await this.trx.updateTable('projection_checkpoint').set({ position: null }).where('name', '=', DEPLOYMENTS_PROJECTION).execute();
  }
}
