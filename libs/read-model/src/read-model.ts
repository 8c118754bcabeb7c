import { ALL_STATUSES, isFinal, type InstanceIntervalChange, type SimDeployment, type UsageRow } from '@simdeploy/domain';
import type { Position } from '@simdeploy/event-store';
import type { DeploymentFilter, ListPage, ListQuery } from './list-query';
import type { UsageQuery } from './usage-query';

const ACTIVE_STATUSES = ALL_STATUSES.filter((s) => !isFinal(s));

/** A deployment as the projection holds it: its folded state and the last event folded in. */
export interface ProjectedDeployment {
  state: SimDeployment;
  position: Position;
}

/** One deployment changed by a batch: what it was before the batch (null when new) and after. */
export interface ProjectedChange {
  before: SimDeployment | null;
  after: SimDeployment;
  position: Position;
  /** What the batch's events did to the deployment's machine intervals, in event order. */
  instances?: readonly InstanceIntervalChange[];
}

/**
 * The write side of one projection transaction. Everything done through it, the checkpoint
 * included, commits together or not at all.
 */
export interface ProjectionTransaction {
  /**
   * Reads the checkpoint and holds it until commit, so a second writer (another projector, a
   * rebuild) waits here before it has written anything, rather than deadlocking later.
   */
  lockCheckpoint(): Promise<Position | null>;
  load(ids: readonly string[]): Promise<Map<string, ProjectedDeployment>>;
  write(changes: readonly ProjectedChange[]): Promise<void>;
  setCheckpoint(position: Position): Promise<void>;
  /** Empties the projection and its checkpoint (the first step of a rebuild). */
  reset(): Promise<void>;
}

/** Held by the one process that projects into a shared read model. */
export interface ProjectorLock {
  /** False once the lock is gone (its connection dropped): stop projecting. */
  readonly held: boolean;
  release(): Promise<void>;
}

export class ReadModelUnavailableError extends Error {
  readonly code = 'READ_MODEL_UNAVAILABLE';
  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = 'ReadModelUnavailableError';
  }
}

/**
 * The query side of deployments: what the gateway lists and shows, what the admin views and
 * the reconciler read, and what the audit tools compare with the events. It is derived from
 * the events alone; a projector fills it batch by batch, each batch with its checkpoint.
 * Adapters: in-memory (tests), SQLite (embedded default), PostgreSQL (production).
 */
export abstract class ReadModel {
  /** Brings the schema to the latest version (a no-op where there is none); safe to run concurrently. */
  abstract migrate(): Promise<void>;

  /** Position of the last event the projection holds; null when it holds none. */
  abstract checkpoint(): Promise<Position | null>;

  abstract get(id: string): Promise<SimDeployment | null>;

  /** A page in list order (newest request first), with a cursor to the next. */
  abstract list(query: ListQuery): Promise<ListPage>;

  /** How many deployments match. Served from tallies when the filter allows, else a scan. */
  abstract count(filter: DeploymentFilter): Promise<number>;

  /**
   * Machine-seconds by owner and instance type over the period, summed by the database from
   * the projected machine intervals: the same figure as the domain's `machineSeconds` over
   * the same events. Rows sorted by owner, then instance type.
   */
  abstract usage(query: UsageQuery): Promise<UsageRow[]>;

  /** Runs `work` in one transaction: all of it commits, or none. */
  abstract transaction<T>(work: (tx: ProjectionTransaction) => Promise<T>): Promise<T>;

  /**
   * Tries to become the one projector of this read model; null while another process is.
   * Adapters that only one process can write (SQLite, in-memory) always grant it.
   */
  abstract tryLockProjector(): Promise<ProjectorLock | null>;

  /** Whether the database answers now. */
  abstract ping(): Promise<boolean>;

  abstract close(): Promise<void>;

  /** Every deployment not yet Terminated or Rejected, for the reconciler; read in pages. */
  async active(pageSize = 1_000): Promise<SimDeployment[]> {
    const statuses = ACTIVE_STATUSES;
    const found: SimDeployment[] = [];
    let cursor: string | undefined;
    do {
      const page = await this.list({ statuses, limit: pageSize, ...(cursor ? { cursor } : {}) });
      found.push(...page.items);
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
    return found;
  }
}
