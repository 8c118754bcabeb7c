import { InstanceInterval, SimDeployment, UsageRow, applyInstanceIntervalChanges, instanceIntervalKey, machineSeconds } from '@simdeploy/domain';
import type { Position } from '@simdeploy/event-store';
import {
  DeploymentFilter,
  ListPage,
  ListQuery,
  countableFromTallies,
  decodeCursor,
  encodeCursor,
  listOrder,
  matches,
} from './list-query';
import { UsageQuery, usagePeriod } from './usage-query';
import { ProjectedChange, ProjectedDeployment, ProjectionTransaction, ProjectorLock, ReadModel } from './read-model';

interface Snapshot {
  rows: Map<string, ProjectedDeployment>;
  /** Machine intervals by deployment and instance id. */
  instances: Map<string, InstanceInterval>;
  checkpoint: Position | null;
}

/**
 * The ReadModel port in this process's memory, for tests of what runs on top of it. Held to
 * the same contract suite as the SQL adapters; a transaction works on a copy and swaps it in
 * on commit, so a failed batch leaves nothing behind.
 */
export class InMemoryReadModel extends ReadModel {
  private data: Snapshot = { rows: new Map(), instances: new Map(), checkpoint: null };
  private writing: Promise<unknown> = Promise.resolve();

  async migrate(): Promise<void> {
    // Nothing to migrate: the schema is the code.
  }

  async checkpoint(): Promise<Position | null> {
    return this.data.checkpoint;
  }

  async get(id: string): Promise<SimDeployment | null> {
    return this.data.rows.get(id)?.state ?? null;
  }

  async list(query: ListQuery): Promise<ListPage> {
    const after = query.cursor ? decodeCursor(query.cursor) : undefined;
    const all = [...this.data.rows.values()].map((r) => r.state).filter((s) => matches(query, s));
    all.sort(listOrder);
    const start = after ? all.filter((s) => listOrder(s, after) > 0) : all.slice(query.offset ?? 0);
    const items = start.slice(0, query.limit);
    const last = items[items.length - 1];
    const nextCursor = start.length > query.limit && last ? encodeCursor(last) : null;
    const total = query.withTotal || countableFromTallies(query) ? all.length : undefined;
    return { items, nextCursor, ...(total === undefined ? {} : { total }) };
  }

  async count(filter: DeploymentFilter): Promise<number> {
    return [...this.data.rows.values()].filter((r) => matches(filter, r.state)).length;
  }

  async usage(query: UsageQuery): Promise<UsageRow[]> {
    const { since, until } = usagePeriod(query);
    const viewer = query.visibleTo;
    const intervals = [...this.data.instances.values()].filter(
      (i) =>
        (query.owner === undefined || i.owner === query.owner) &&
        (query.team === undefined || i.team === query.team) &&
        (viewer === undefined || i.owner === viewer.owner || (viewer.team !== undefined && i.team === viewer.team)),
    );
    return machineSeconds(intervals, since, until, query.now);
  }

  async transaction<T>(work: (tx: ProjectionTransaction) => Promise<T>): Promise<T> {
    // One writer at a time, like a database's write lock.
    const run = this.writing.then(async () => {
      const draft: Snapshot = { rows: new Map(this.data.rows), instances: new Map(this.data.instances), checkpoint: this.data.checkpoint };
      const tx: ProjectionTransaction = {
        lockCheckpoint: async () => draft.checkpoint,
        load: async (ids) => new Map(ids.flatMap((id) => (draft.rows.has(id) ? [[id, draft.rows.get(id) as ProjectedDeployment]] : []))),
        write: async (changes: readonly ProjectedChange[]) => {
          for (const c of changes) {
            draft.rows.set(c.after.id, { state: structuredClone(c.after), position: c.position });
            if (!c.instances) continue;
            // Copies of what the changes touch, so the committed snapshot stays as it was until the swap.
            for (const change of c.instances) {
              if (change.kind === 'launched') continue;
              const key = instanceIntervalKey(change.deploymentId, change.instanceId);
              const interval = draft.instances.get(key);
              if (interval) draft.instances.set(key, { ...interval });
            }
            applyInstanceIntervalChanges(draft.instances, c.instances);
          }
        },
        setCheckpoint: async (position) => {
          draft.checkpoint = position;
        },
        reset: async () => {
          draft.rows = new Map();
          draft.instances = new Map();
          draft.checkpoint = null;
        },
      };
      const result = await work(tx);
      this.data = draft;
      return result;
    });
    this.writing = run.catch(() => undefined);
    return run;
  }

  async tryLockProjector(): Promise<ProjectorLock | null> {
    return { held: true, release: async () => undefined };
  }

  async ping(): Promise<boolean> {
    return true;
  }

  async close(): Promise<void> {
    // Nothing is held open.
  }
}
