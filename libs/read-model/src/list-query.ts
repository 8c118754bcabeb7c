import { ALL_ERROR_STATUSES, ALL_STATUSES, ErrorStatus, SimDeployment, Status, ValidationError } from '@simdeploy/domain';

/** `errorStatus=none`: deployments without an error status. */
export const NO_ERROR = 'none';
export type ErrorStatusFilterValue = ErrorStatus | typeof NO_ERROR;

export interface Viewer {
  owner: string;
  team?: string;
}

/** Which deployments a list or a count covers. Every field narrows; none set means all. */
export interface DeploymentFilter {
  owner?: string;
  /** Only the simulations of this team (as recorded at launch). */
  team?: string;
  /** What a member may see: their own simulations, and their team's when they have one. */
  visibleTo?: Viewer;
  /** The statuses to keep (already resolved from `A,B` or `!A,B`). */
  statuses?: readonly Status[];
  /** The error statuses to keep, `none` meaning "no error status". */
  errorStatuses?: readonly ErrorStatusFilterValue[];
  /** Every pair must be among the deployment's labels. */
  labels?: Readonly<Record<string, string>>;
  /** Requested at or after this instant (ISO-8601). */
  requestedFrom?: string;
  /** Requested before this instant (ISO-8601). */
  requestedTo?: string;
}

export interface ListQuery extends DeploymentFilter {
  limit: number;
  /** Where the previous page ended (its `nextCursor`). */
  cursor?: string;
  /** Deprecated: skips this many matches, which costs a scan of them. Ignored with a cursor. */
  offset?: number;
  /** Count every match even where that costs a scan (labels or a time range in the filter). */
  withTotal?: boolean;
}

export interface ListPage {
  /** Newest request first; ties in id order. */
  items: SimDeployment[];
  /** Pass it as `cursor` for the next page; null on the last page. */
  nextCursor: string | null;
  /** Every match, when it was cheap (owner, status and error status filters only) or asked for. */
  total?: number;
}

/** The place in the list order a page ends at: newest first, then by id. */
export interface ListPosition {
  requestedAt: string;
  id: string;
}

export const encodeCursor = (p: ListPosition): string => Buffer.from(JSON.stringify([p.requestedAt, p.id])).toString('base64url');

export function decodeCursor(cursor: string): ListPosition {
  let decoded: unknown;
  try {
    decoded = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    decoded = null;
  }
  if (!Array.isArray(decoded) || decoded.length !== 2 || !decoded.every((v) => typeof v === 'string')) {
    throw new ValidationError('cursor must be a nextCursor value from a previous page');
  }
  return { requestedAt: decoded[0] as string, id: decoded[1] as string };
}

/** Whether `a` comes before `b` in list order (byte order of the strings, as SQL's C collation). */
export const listOrder = (a: ListPosition, b: ListPosition): number =>
  a.requestedAt > b.requestedAt ? -1 : a.requestedAt < b.requestedAt ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0;

/**
 * Parses `A,B` or `!A,B` into the set of values it keeps, in `allowed` order, so that a
 * negation becomes a short IN list that an index can serve. Unknown values are refused.
 */
export function parseValueSet<T extends string>(name: string, value: string | undefined, allowed: readonly T[]): T[] | undefined {
  if (value === undefined || value === '') return undefined;
  const negate = value.startsWith('!');
  const values = (negate ? value.slice(1) : value).split(',').map((v) => v.trim());
  const unknown = values.filter((v) => !(allowed as readonly string[]).includes(v));
  if (unknown.length > 0 || values.length === 0) {
    throw new ValidationError(`${name} must be one of ${allowed.join(', ')} (optionally comma-separated, with a leading ! to negate); got "${value}"`);
  }
  return allowed.filter((v) => values.includes(v) !== negate);
}

export const parseStatuses = (value: string | undefined): Status[] | undefined => parseValueSet('status', value, ALL_STATUSES);

export const parseErrorStatuses = (value: string | undefined): ErrorStatusFilterValue[] | undefined =>
  parseValueSet<ErrorStatusFilterValue>('errorStatus', value, [...ALL_ERROR_STATUSES, NO_ERROR]);

const LABEL_PAIR = /^([^=,\s]+)=([^,]*)$/;

/** `team=nav,env=prod` into `{ team: 'nav', env: 'prod' }`. */
export function parseLabels(value: string | undefined): Record<string, string> | undefined {
  if (value === undefined || value === '') return undefined;
  const labels: Record<string, string> = {};
  for (const pair of value.split(',')) {
    const match = LABEL_PAIR.exec(pair.trim());
    if (!match) throw new ValidationError(`labels must be key=value pairs separated by commas, e.g. team=nav,env=prod; got "${value}"`);
    labels[match[1] as string] = match[2] as string;
  }
  return labels;
}

/** An ISO-8601 instant, normalised the way events record times so that text comparison orders it. */
export function parseInstant(name: string, value: string | undefined): string | undefined {
  if (value === undefined || value === '') return undefined;
  const time = Date.parse(value);
  if (!/^\d{4}-\d{2}-\d{2}/.test(value) || Number.isNaN(time)) {
    throw new ValidationError(`${name} must be an ISO-8601 time like 2025-01-31T12:00:00Z; got "${value}"`);
  }
  return new Date(time).toISOString();
}

/** A member sees their own simulations and their team's. */
export const canSee = (viewer: Viewer, state: Pick<SimDeployment, 'owner' | 'team'>): boolean =>
  state.owner === viewer.owner || (viewer.team !== undefined && state.team === viewer.team);

/** Whether a filter can be counted from the per-(owner, team, status, error status) tallies. */
export const countableFromTallies = (filter: DeploymentFilter): boolean =>
  filter.labels === undefined && filter.requestedFrom === undefined && filter.requestedTo === undefined;

/** The same filter as a predicate, for the in-memory adapter and for tests. */
export function matches(filter: DeploymentFilter, state: SimDeployment): boolean {
  if (filter.owner !== undefined && state.owner !== filter.owner) return false;
  if (filter.team !== undefined && state.team !== filter.team) return false;
  if (filter.visibleTo && !canSee(filter.visibleTo, state)) return false;
  if (filter.statuses && !filter.statuses.includes(state.status)) return false;
  if (filter.errorStatuses && !filter.errorStatuses.includes(state.errorStatus ?? NO_ERROR)) return false;
  if (filter.requestedFrom !== undefined && state.requestedAt < filter.requestedFrom) return false;
  if (filter.requestedTo !== undefined && state.requestedAt >= filter.requestedTo) return false;
  if (filter.labels && !Object.entries(filter.labels).every(([k, v]) => state.spec.labels[k] === v)) return false;
  return true;
}
