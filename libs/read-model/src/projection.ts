import { InstanceIntervalChange, SimDeployment, eventTime, evolve, instanceIntervalChanges, upcast } from '@simdeploy/domain';
import { Position, RecordedEvent, comparePositions } from '@simdeploy/event-store';
import type { ProjectedChange, ProjectedDeployment, ProjectionTransaction } from './read-model';


/** Another writer moved the checkpoint since this projector last committed: re-read it and resume from there. */
export class CheckpointMovedError extends Error {
  constructor(
    readonly expected: Position | null,
    readonly actual: Position | null,
  ) {
    super(`the read model's checkpoint is at ${actual ?? 'the start'}, not at ${expected ?? 'the start'}: another writer projected meanwhile`);
    this.name = 'CheckpointMovedError';
  }
}

export interface BatchResult {
  /** The checkpoint after the batch. */
  checkpoint: Position | null;
  /** Events of the batch past the checkpoint (the others were applied before). */
  applied: number;
  /** Deployments the batch changed. */
  changed: number;
}

/**
 * Folds a batch of store events into the projection inside `tx`, and moves the checkpoint to
 * the batch's last event. Events at or before the checkpoint, or at or before the position a
 * deployment was last folded at, are skipped: replaying a batch changes nothing. With
 * `expected`, the batch refuses to apply over a checkpoint some other writer moved.
 */
export async function applyBatch(
  tx: ProjectionTransaction,
  events: readonly RecordedEvent[],
  expected?: Position | null,
): Promise<BatchResult> {
  const current = await tx.lockCheckpoint();
  if (expected !== undefined && current !== expected) throw new CheckpointMovedError(expected, current);
  const fresh = current === null ? events : events.filter((e) => comparePositions(e.position, current) > 0);
  const last = fresh[fresh.length - 1];
  if (!last) return { checkpoint: current, applied: 0, changed: 0 };

  const ids = [...new Set(fresh.map((e) => e.streamId))];
  const loaded = await tx.load(ids);
  const working = new Map<string, { before: SimDeployment | null; now: ProjectedDeployment; instances?: InstanceIntervalChange[] }>();
  for (const [id, row] of loaded) working.set(id, { before: row.state, now: row });

  for (const recorded of fresh) {
    const event = upcast(recorded);
    if (!event) continue;
    const entry = working.get(recorded.streamId);
    if (entry && comparePositions(entry.now.position, recorded.position) >= 0) continue;
    const next = evolve(entry?.now.state ?? null, event);
    // Records on a stream that was never requested (the sweep's own stream) fold to nothing.
    if (next === null) continue;
    // The machine intervals move by the same rule as the domain's instanceIntervals.
    const instances = instanceIntervalChanges(entry?.now.state ?? null, event, eventTime(recorded));
    if (entry) entry.now = { state: next, position: recorded.position };
    else working.set(recorded.streamId, { before: null, now: { state: next, position: recorded.position } });
    const changed = working.get(recorded.streamId);
    if (changed && instances.length > 0) (changed.instances ??= []).push(...instances);
  }

  const changes: ProjectedChange[] = [];
  for (const [id, entry] of working) {
    if (entry.now !== loaded.get(id)) {
      changes.push({ before: entry.before, after: entry.now.state, position: entry.now.position, ...(entry.instances ? { instances: entry.instances } : {}) });
    }
  }
  if (changes.length > 0) await tx.write(changes);
  await tx.setCheckpoint(last.position);
  return { checkpoint: last.position, applied: fresh.length, changed: changes.length };
}

/** The key the tallies count by: error status `''` for none, as a primary key cannot hold null. */
export const tallyKey = (s: SimDeployment): { owner: string; team: string; status: string; error_status: string } => ({
  owner: s.owner,
  team: s.team ?? '',
  status: s.status,
  error_status: s.errorStatus ?? '',
});

/** How each (owner, team, status, error status) count moves with these changes; zero moves left out. */
export function tallyDeltas(changes: readonly ProjectedChange[]): { owner: string; team: string; status: string; error_status: string; n: number }[] {
  const deltas = new Map<string, { owner: string; team: string; status: string; error_status: string; n: number }>();
  const add = (s: SimDeployment, n: number) => {
    const key = tallyKey(s);
    const id = `${key.owner}\0${key.team}\0${key.status}\0${key.error_status}`;
    const entry = deltas.get(id) ?? { ...key, n: 0 };
    entry.n += n;
    deltas.set(id, entry);
  };
  for (const change of changes) {
    if (change.before) add(change.before, -1);
    add(change.after, 1);
  }
  return [...deltas.values()].filter((d) => d.n !== 0);
}

/**
 * A transaction that remembers the states it loaded and wrote, so a long run of batches by one
 * writer (a rebuild, inside its single transaction) does not read back and parse rows it has
 * just written. Only for a writer nobody else writes beside; `capacity` bounds the memory.
 */
export function withStateCache(tx: ProjectionTransaction, capacity = 20_000): ProjectionTransaction {
  const cache = new Map<string, ProjectedDeployment>();
  const remember = (id: string, row: ProjectedDeployment) => {
    cache.delete(id);
    cache.set(id, row);
    if (cache.size > capacity) cache.delete(cache.keys().next().value as string);
  };
  return {
    lockCheckpoint: () => tx.lockCheckpoint(),
    setCheckpoint: (position) => tx.setCheckpoint(position),
    reset: async () => {
      cache.clear();
      await tx.reset();
    },
    load: async (ids) => {
      const found = new Map<string, ProjectedDeployment>();
      const missing: string[] = [];
      for (const id of ids) {
        const row = cache.get(id);
        if (row) found.set(id, row);
        else missing.push(id);
      }
      if (missing.length > 0) for (const [id, row] of await tx.load(missing)) found.set(id, row);
      return found;
    },
    write: async (changes) => {
      await tx.write(changes);
      for (const c of changes) remember(c.after.id, { state: c.after, position: c.position });
    },
  };
}
