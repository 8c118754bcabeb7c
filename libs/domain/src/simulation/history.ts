import type { SimDeploymentEvent } from './events';
import { type SimDeployment, type SimDeploymentState, evolve } from './state';
import type { ErrorStatus, Status } from './status';
import { upcast } from './upcast';

/**
 * History views over one deployment's events: its status intervals, its state at a time, and
 * the machines it ran, with the one definition of machine-seconds that the API and the audit
 * tools share.
 *
 * Whose clock: the time an event carries in its data (`at`, or `requestedAt` on the request) is
 * authoritative. It is the time the decider stamped from the command's metadata, the one the
 * fold itself uses (statusSince, runningSince, phase deadlines), and it travels with the event
 * through an export or a copy into another store, where the store's own `recordedAt` would
 * change. `recordedAt` is used only for an event whose data carries no time.
 */

/** An event as read from a stream: its type and data, and when the store recorded it. */
export interface HistoryEvent {
  type: string;
  data: object;
  /** Carries the schema version the event was written in. */
  metadata?: Readonly<Record<string, unknown>>;
  recordedAt?: string;
}

/** When the event happened, in epoch milliseconds; NaN when neither its data nor the store says. */
export function eventTime(event: HistoryEvent): number {
  const data = event.data as { at?: unknown; requestedAt?: unknown };
  const own = event.type === 'SimulationRequested' ? data.requestedAt : data.at;
  if (typeof own === 'string') {
    const time = Date.parse(own);
    if (!Number.isNaN(time)) return time;
  }
  return event.recordedAt === undefined ? Number.NaN : Date.parse(event.recordedAt);
}

const toInstant = (time: string | number | Date): number =>
  typeof time === 'number' ? time : typeof time === 'string' ? Date.parse(time) : time.getTime();

const iso = (ms: number): string => new Date(ms).toISOString();

/** The deployment events among what a stream holds (other records, such as the sweep's, are left out), upcast, with their times. */
function timed(events: readonly HistoryEvent[]): { event: SimDeploymentEvent; time: number }[] {
  const out: { event: SimDeploymentEvent; time: number }[] = [];
  for (const e of events) {
    // Recorded shapes become the current one in one place, as for every other reader.
    const event = upcast(e);
    if (!event) continue;
    out.push({ event, time: eventTime(e) });
  }
  return out;
}

export interface StatusInterval {
  status: Status;
  errorStatus: ErrorStatus | null;
  from: string;
  /** When the next interval began; null for the current one. */
  to: string | null;
  durationSeconds: number | null;
}

/** An interval per change of status or error status, in stream order; the last one is open. */
export function statusIntervals(events: readonly HistoryEvent[]): StatusInterval[] {
  const intervals: StatusInterval[] = [];
  let state: SimDeploymentState = null;
  for (const { event, time } of timed(events)) {
    state = evolve(state, event);
    if (state === null) continue;
    const open = intervals[intervals.length - 1];
    if (open && open.status === state.status && open.errorStatus === state.errorStatus) continue;
    if (open) {
      open.to = iso(time);
      open.durationSeconds = (time - Date.parse(open.from)) / 1000;
    }
    intervals.push({ status: state.status, errorStatus: state.errorStatus, from: iso(time), to: null, durationSeconds: null });
  }
  return intervals;
}

/**
 * The deployment as it was at `time`: the fold of its events up to the first one after it
 * (stream order decides, so a worker's clock a little behind another's never folds a later
 * event in without an earlier one). Null when it did not exist yet.
 */
export function stateAt(events: readonly HistoryEvent[], time: string | number | Date): SimDeploymentState {
  const limit = toInstant(time);
  let state: SimDeploymentState = null;
  for (const { event, time: at } of timed(events)) {
    if (!(at <= limit)) break;
    state = evolve(state, event);
  }
  return state;
}

/** One machine a deployment ran, from its launch to its termination as the events record them. */
export interface InstanceInterval {
  deploymentId: string;
  owner: string;
  /** The owner's team when teams are configured; null otherwise. */
  team: string | null;
  provider: string;
  instanceType: string;
  instanceId: string;
  launchedAt: string;
  /** Null while the events say it still runs. */
  terminatedAt: string | null;
}

/** What one event does to a deployment's machine intervals. */
export type InstanceIntervalChange =
  | { kind: 'launched'; interval: InstanceInterval }
  /** Ends the interval if it is still open. */
  | { kind: 'terminated'; deploymentId: string; instanceId: string; at: string }
  /** The orphan sweep removed it: it ran until then, whatever an earlier record said. */
  | { kind: 'swept'; deploymentId: string; instanceId: string; at: string };

/**
 * The rule for machine intervals, as a step on the deployment's state before the event: an
 * instance starts when its launch is recorded (InstanceLaunched), and ends when the events
 * say it was terminated: InstancesTerminated for the ids it names, SimulationTerminated (the
 * end of a stop or a rollback) and AdminReviewResolved for every instance still held. An
 * OrphanSwept of one of its instances (not a dry run) ends it at the sweep, later than a
 * termination that had not in fact happened. The projector applies the same function, so the
 * read model's intervals are these.
 */
export function instanceIntervalChanges(before: SimDeploymentState, event: SimDeploymentEvent, time: number): InstanceIntervalChange[] {
  if (before === null) return [];
  const at = iso(time);
  const deploymentId = before.id;
  const held = (s: SimDeployment) => s.nodes.filter((n) => n.instanceId && !n.released).map((n) => n.instanceId as string);
  switch (event.type) {
    case 'InstanceLaunched': {
      const { role, index, instanceId } = event.data;
      const node = before.nodes.find((n) => n.role === role && n.index === index);
      if (!node || node.instanceId === instanceId) return [];
      return [
        {
          kind: 'launched',
          interval: {
            deploymentId,
            owner: before.owner,
            team: before.team ?? null,
            provider: before.provider,
            instanceType: node.instanceType,
            instanceId,
            launchedAt: at,
            terminatedAt: null,
          },
        },
      ];
    }
    case 'InstancesTerminated':
      return event.data.instanceIds.filter((id) => held(before).includes(id)).map((instanceId) => ({ kind: 'terminated', deploymentId, instanceId, at }));
    case 'SimulationTerminated':
    case 'AdminReviewResolved':
      return held(before).map((instanceId) => ({ kind: 'terminated', deploymentId, instanceId, at }));
    case 'OrphanSwept': {
      const { kind, dryRun, resourceId } = event.data;
      if (kind !== 'instance' || dryRun || !before.nodes.some((n) => n.instanceId === resourceId)) return [];
      return [{ kind: 'swept', deploymentId, instanceId: resourceId, at }];
    }
    default:
      return [];
  }
}

/** The key of an interval in the maps `applyInstanceIntervalChanges` works on. */
export const instanceIntervalKey = (deploymentId: string, instanceId: string): string => `${deploymentId}\0${instanceId}`;

/** Applies changes to intervals keyed by `instanceIntervalKey` (what the read models do too). */
export function applyInstanceIntervalChanges(intervals: Map<string, InstanceInterval>, changes: readonly InstanceIntervalChange[]): void {
  for (const change of changes) {
    if (change.kind === 'launched') {
      const key = instanceIntervalKey(change.interval.deploymentId, change.interval.instanceId);
      if (!intervals.has(key)) intervals.set(key, { ...change.interval });
      continue;
    }
    const interval = intervals.get(instanceIntervalKey(change.deploymentId, change.instanceId));
    if (!interval) continue;
    if (change.kind === 'terminated') {
      if (interval.terminatedAt === null) interval.terminatedAt = change.at;
    } else if (interval.terminatedAt === null || Date.parse(interval.terminatedAt) < Date.parse(change.at)) {
      interval.terminatedAt = change.at;
    }
  }
}

/** Each machine the deployment's events record, in launch order. */
export function instanceIntervals(events: readonly HistoryEvent[]): InstanceInterval[] {
  const intervals = new Map<string, InstanceInterval>();
  let state: SimDeploymentState = null;
  for (const { event, time } of timed(events)) {
    applyInstanceIntervalChanges(intervals, instanceIntervalChanges(state, event, time));
    state = evolve(state, event);
  }
  return [...intervals.values()];
}

/** Machine time of one owner on one instance type over a period. */
export interface UsageRow {
  owner: string;
  instanceType: string;
  /** Seconds (to the millisecond) the owner's machines of this type ran inside the period. */
  machineSeconds: number;
  /** How many machines ran some of that time. */
  instances: number;
}

export interface UsagePeriod {
  since: string | number | Date;
  until: string | number | Date;
  /** Where a machine still running ends: the period's end if that is earlier. */
  now: string | number | Date;
}

/**
 * The part of an interval inside the period, in milliseconds: from max(launchedAt, since) to
 * min(terminatedAt, until), an open interval running to min(until, now). Zero when they do not
 * overlap. Whole milliseconds, so sums are exact and the SQL aggregate gives the same figure.
 */
export function clippedMilliseconds(interval: Pick<InstanceInterval, 'launchedAt' | 'terminatedAt'>, period: UsagePeriod): number {
  const since = toInstant(period.since);
  const until = toInstant(period.until);
  const end = interval.terminatedAt === null ? Math.min(until, toInstant(period.now)) : Math.min(Date.parse(interval.terminatedAt), until);
  const start = Math.max(Date.parse(interval.launchedAt), since);
  return end > start ? end - start : 0;
}

/**
 * Machine-seconds by owner and instance type over [since, until): the figure users pay for.
 * Rows sorted by owner, then instance type; machines that ran none of the period are left out.
 */
export function machineSeconds(
  intervals: readonly Pick<InstanceInterval, 'owner' | 'instanceType' | 'launchedAt' | 'terminatedAt'>[],
  since: string | number | Date,
  until: string | number | Date,
  now: string | number | Date,
): UsageRow[] {
  const sums = new Map<string, { owner: string; instanceType: string; ms: number; instances: number }>();
  for (const interval of intervals) {
    const ms = clippedMilliseconds(interval, { since, until, now });
    if (ms === 0) continue;
    const key = `${interval.owner}\0${interval.instanceType}`;
    const sum = sums.get(key) ?? { owner: interval.owner, instanceType: interval.instanceType, ms: 0, instances: 0 };
    sum.ms += ms;
    sum.instances += 1;
    sums.set(key, sum);
  }
  return [...sums.values()]
    .sort((a, b) => compareText(a.owner, b.owner) || compareText(a.instanceType, b.instanceType))
    .map((s) => ({ owner: s.owner, instanceType: s.instanceType, machineSeconds: s.ms / 1000, instances: s.instances }));
}

/** The start (UTC) of the calendar month holding the instant just before `until`: a period ending on the 1st is the month before (the default `since` of a usage query). */
export function monthStartBefore(until: number): string {
  const last = new Date(until - 1);
  return new Date(Date.UTC(last.getUTCFullYear(), last.getUTCMonth(), 1)).toISOString();
}

/** Byte order, as the SQL read models sort text (collate "C"). */
const compareText = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);
