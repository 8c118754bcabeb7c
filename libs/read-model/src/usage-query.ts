import { ValidationError } from '@simdeploy/domain';
import type { Viewer } from './list-query';

/** Machine usage over [since, until), as epoch milliseconds or ISO times. */
export interface UsageQuery {
  since: string;
  until: string;
  /** Where a machine still running ends, if that is before `until`. */
  now: string;
  owner?: string;
  team?: string;
  /** Only what this member may see: their own, and their team's. */
  visibleTo?: Viewer;
}

/** The period in epoch milliseconds, refused when it is empty or a time does not parse. */
export function usagePeriod(query: Pick<UsageQuery, 'since' | 'until' | 'now'>): { since: number; until: number; openEnd: number } {
  const since = Date.parse(query.since);
  const until = Date.parse(query.until);
  const now = Date.parse(query.now);
  if (Number.isNaN(since)) throw new ValidationError(`since must be an ISO-8601 time; got "${query.since}"`);
  if (Number.isNaN(until)) throw new ValidationError(`until must be an ISO-8601 time; got "${query.until}"`);
  if (Number.isNaN(now)) throw new ValidationError(`now must be an ISO-8601 time; got "${query.now}"`);
  if (since >= until) throw new ValidationError(`since (${query.since}) must be before until (${query.until})`);
  return { since, until, openEnd: Math.min(until, now) };
}
