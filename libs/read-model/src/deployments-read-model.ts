import { Logger } from '@nestjs/common';
import {
  ALL_ERROR_STATUSES,
  ALL_STATUSES,
  SimDeployment,
  ValidationError,
  evolve,
  isSimDeploymentEvent,
} from '@simdeploy/domain';
import { EventStore, EventSubscription, Position, RecordedEvent, comparePositions } from '@simdeploy/event-store';

export interface ListQuery {
  /** Only this owner's deployments; all of them when omitted (admins). */
  owner?: string;
  /** e.g. `Running`, `Pending,LaunchingNodes`, or `!Terminated` (a leading ! negates). */
  status?: string;
  /** As status, plus `none` for "no error status". */
  errorStatus?: string;
  limit: number;
  offset: number;
}

export interface ListResult {
  items: SimDeployment[];
  total: number;
}

const NO_ERROR = 'none';

/** Parses `A,B` or `!A,B` into a predicate; unknown values are a validation error. */
export function parseFilter(name: string, value: string | undefined, allowed: readonly string[]) {
  if (value === undefined || value === '') return () => true;
  const negate = value.startsWith('!');
  const values = (negate ? value.slice(1) : value).split(',').map((v) => v.trim());
  const unknown = values.filter((v) => !allowed.includes(v));
  if (unknown.length > 0 || values.length === 0) {
    throw new ValidationError(`${name} must be one of ${allowed.join(', ')} (optionally comma-separated, with a leading ! to negate); got "${value}"`);
  }
  return (actual: string) => values.includes(actual) !== negate;
}

/**
 * The list view: every deployment's state, folded from the store-wide event feed. It holds
 * nothing of its own and is rebuilt from the events at every start.
 */
export class DeploymentsReadModel {
  private readonly logger = new Logger(DeploymentsReadModel.name);
  private readonly states = new Map<string, SimDeployment>();
  private position: Position | null = null;
  private subscription: EventSubscription | null = null;
  private readonly waiters = new Set<() => void>();
  private feed: Promise<void> | null = null;

  constructor(private readonly store: EventStore) {}

  start(): void {
    if (this.subscription) return;
    const subscription = this.store.subscribeToAll({ from: 'start' });
    this.subscription = subscription;
    this.feed = (async () => {
      for await (const event of subscription) this.apply(event);
    })().catch((error: unknown) => this.logger.error(`event feed stopped: ${String(error)}`));
  }

  async stop(): Promise<void> {
    await this.subscription?.close();
    await this.feed;
    this.subscription = null;
  }

  apply(recorded: RecordedEvent): void {
    const event = { type: recorded.type, data: recorded.data };
    if (isSimDeploymentEvent(event)) {
      const next = evolve(this.states.get(recorded.streamId) ?? null, event);
      if (next) this.states.set(recorded.streamId, next);
    }
    this.position = recorded.position;
    for (const wake of this.waiters) wake();
  }

  /** Whether the view has seen everything up to `position`, waiting at most `timeoutMs`. */
  async caughtUp(position: Position, timeoutMs: number): Promise<boolean> {
    const done = () => this.position !== null && comparePositions(this.position, position) >= 0;
    if (done()) return true;
    return new Promise((resolve) => {
      const finish = (result: boolean) => {
        clearTimeout(timer);
        this.waiters.delete(check);
        resolve(result);
      };
      const check = () => done() && finish(true);
      const timer = setTimeout(() => finish(false), timeoutMs);
      this.waiters.add(check);
    });
  }

  get(id: string): SimDeployment | undefined {
    return this.states.get(id);
  }

  list(query: ListQuery): ListResult {
    const statusMatches = parseFilter('status', query.status, ALL_STATUSES);
    const errorMatches = parseFilter('errorStatus', query.errorStatus, [...ALL_ERROR_STATUSES, NO_ERROR]);
    const matching = [...this.states.values()]
      .filter((s) => query.owner === undefined || s.owner === query.owner)
      .filter((s) => statusMatches(s.status) && errorMatches(s.errorStatus ?? NO_ERROR))
      .sort((a, b) => b.requestedAt.localeCompare(a.requestedAt) || a.id.localeCompare(b.id));
    return { items: matching.slice(query.offset, query.offset + query.limit), total: matching.length };
  }
}
