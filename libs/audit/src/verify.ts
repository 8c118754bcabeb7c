import {
  ADMISSION_EVENT_TYPES,
  ErrorStatus,
  Status,
  canTransition,
  evolve,
  unreleasedInstanceIds,
  upcastEvent,
  type SimDeployment,
  type SimDeploymentEvent,
  type SimDeploymentState,
} from '@simdeploy/domain';
import { comparePositions, type EventStore, type Position, type RecordedEvent } from '@simdeploy/event-store';
import type { ReadModel } from '@simdeploy/read-model';
import { canonicalJson } from './canonical';
import { scanPages } from './scan';

export interface StreamProblem {
  streamId: string;
  /** Where the first offending event is. */
  position: Position;
  detail: string;
}

export interface LeakedResources {
  streamId: string;
  instances: string[];
  workload: boolean;
}

export interface VerifyReport {
  ok: boolean;
  events: number;
  streams: number;
  deployments: number;
  /** Streams that hold admission ledgers (not deployments): their records are known, not folded. */
  ledgerStreams: number;
  elapsedMs: number;
  eventsPerSecond: number;
  unknownEvents: { count: number; streams: StreamProblem[] };
  illegalSequences: { count: number; streams: StreamProblem[] };
  readModel: {
    checked: number;
    /** Why nothing was compared, when nothing was. */
    skipped?: string;
    /** Deployments whose last event is past the read model's checkpoint: it has not seen them yet. */
    notYetProjected: number;
    mismatches: { count: number; streams: StreamProblem[] };
  };
  leaks: { count: number; streams: LeakedResources[] };
}

interface StreamCheck {
  state: SimDeploymentState;
  last: Position;
  ledger: boolean;
  unknown: boolean;
  illegal: boolean;
}

const ADMISSION_TYPES: ReadonlySet<string> = new Set(ADMISSION_EVENT_TYPES);
/** Events that set a status: decide never repeats one (a repeated step adds nothing). */
const STATUS_EVENTS: ReadonlySet<string> = new Set([
  'SimulationRejected',
  'NodesLaunchStarted',
  'PodsLaunchStarted',
  'SimulationRunning',
  'StopRequested',
  'PodsDeletionStarted',
  'NodesDeletionStarted',
  'InstancesTerminationStarted',
  'SimulationTerminated',
]);
/** The edges out of a launch status that only the rollback of a failed launch takes (see decide's rollbackOnlyFrom). */
const ROLLBACK_EDGES: ReadonlySet<string> = new Set([
  `${Status.LaunchingNodes}>${Status.DeletingNodes}`,
  `${Status.LaunchingPods}>${Status.DeletingPods}`,
  `${Status.Pending}>${Status.Terminated}`,
]);

/**
 * Why an event may not follow the state it was folded on, by the domain's rules: the
 * transition table, the error-status guards `decide` applies to it, the admin's resolution
 * as the one edge outside the table, and no status step taken twice. Null when it may.
 */
export function illegalStep(before: SimDeploymentState, event: SimDeploymentEvent, after: SimDeploymentState): string | null {
  if (before === null) {
    if (event.type === 'SimulationRequested') return null;
    // The orphan sweep records what it removed on a stream of its own, which holds no deployment.
    return event.type === 'OrphanSwept' ? null : `${event.type} before SimulationRequested`;
  }
  if (event.type === 'SimulationRequested') return 'SimulationRequested on a stream that already holds a deployment';
  if (after === null) return `${event.type} folded to no deployment`;
  if (before.status === after.status) {
    return STATUS_EVENTS.has(event.type) ? `${event.type} repeated in ${before.status}` : null;
  }
  if (event.type === 'AdminReviewResolved') {
    return before.errorStatus === ErrorStatus.AdminReview ? null : `AdminReviewResolved without AdminReview (error status ${before.errorStatus ?? 'none'})`;
  }
  if (before.errorStatus === ErrorStatus.AdminReview) return `${before.status} -> ${after.status} while awaiting admin review`;
  if (!canTransition(before.status, after.status)) return `${before.status} -> ${after.status} is not in the transition table`;
  if (ROLLBACK_EDGES.has(`${before.status}>${after.status}`) && before.errorStatus !== ErrorStatus.InitializationFailed) {
    return `${before.status} -> ${after.status} is a rollback, but the launch had not failed`;
  }
  return null;
}

/** What a Terminated deployment's events say it launched and never gave back (nor the orphan sweep removed). */
export function leakedResources(state: SimDeployment): { instances: string[]; workload: boolean } | null {
  if (state.status !== Status.Terminated) return null;
  const swept = new Set(state.sweeps.filter((s) => !s.dryRun).map((s) => `${s.kind}:${s.resourceId}`));
  const instances = unreleasedInstanceIds(state).filter((id) => !swept.has(`instance:${id}`));
  const workload = state.workloadHeld && !swept.has(`workload:${state.id}`);
  return instances.length > 0 || workload ? { instances, workload } : null;
}

/**
 * Re-folds every stream it is fed, in store order, and keeps per stream only the fold, its
 * last position and which problems it showed; `finish` compares with the read model and
 * reports. Fed page by page, it holds one state per stream, never the events.
 */
export class StoreVerifier {
  private readonly streams = new Map<string, StreamCheck>();
  private readonly unknown: StreamProblem[] = [];
  private readonly illegal: StreamProblem[] = [];
  private events = 0;
  private readonly started = Date.now();

  get eventCount(): number {
    return this.events;
  }

  add(page: readonly RecordedEvent[]): void {
    this.events += page.length;
    for (const recorded of page) {
      let check = this.streams.get(recorded.streamId);
      if (!check) {
        check = { state: null, last: recorded.position, ledger: false, unknown: false, illegal: false };
        this.streams.set(recorded.streamId, check);
      }
      check.last = recorded.position;
      const result = upcastEvent(recorded);
      if (!result.ok) {
        if (result.problem === 'unknown-type' && ADMISSION_TYPES.has(recorded.type) && check.state === null) {
          check.ledger = true;
          continue;
        }
        if (!check.unknown) {
          check.unknown = true;
          const what = result.problem === 'unknown-version' ? `schema version ${String(recorded.metadata?.['schemaVersion'])}` : result.problem === 'malformed' ? 'data that is not an object' : 'unknown type';
          this.unknown.push({ streamId: recorded.streamId, position: recorded.position, detail: `${recorded.type}: ${what}` });
        }
        continue;
      }
      const before = check.state;
      const after = evolve(before, result.event);
      if (!check.illegal) {
        const why = check.ledger ? `${recorded.type} on an admission ledger's stream` : illegalStep(before, result.event, after);
        if (why !== null) {
          check.illegal = true;
          this.illegal.push({ streamId: recorded.streamId, position: recorded.position, detail: why });
        }
      }
      check.state = after;
    }
  }

  async finish(readModel: ReadModel | null, skippedReason?: string): Promise<VerifyReport> {
    const leaks: LeakedResources[] = [];
    const deployments: [string, StreamCheck & { state: SimDeployment }][] = [];
    let ledgerStreams = 0;
    for (const [streamId, check] of this.streams) {
      if (check.ledger) ledgerStreams++;
      if (check.state === null) continue;
      deployments.push([streamId, check as StreamCheck & { state: SimDeployment }]);
      const leaked = leakedResources(check.state);
      if (leaked) leaks.push({ streamId, ...leaked });
    }
    const mismatches: StreamProblem[] = [];
    let checked = 0;
    let notYetProjected = 0;
    if (readModel) {
      const checkpoint = await readModel.checkpoint();
      const folded = new Map(deployments);
      const seen = new Set<string>();
      const compare = (view: SimDeployment) => {
        const entry = folded.get(view.id);
        if (!entry) return; // past the head this verify read up to: a later deployment
        seen.add(view.id);
        if (checkpoint === null || comparePositions(entry.last, checkpoint) > 0) {
          notYetProjected++;
          return;
        }
        // The read model moved on since this verify began (a live projector): not comparable.
        if (view.updatedAt > entry.state.updatedAt) {
          notYetProjected++;
          return;
        }
        checked++;
        // The view was serialised from a fold built the same way, so its members are in the same order: the plain text usually settles it.
        if (JSON.stringify(view) !== JSON.stringify(entry.state) && canonicalJson(view) !== canonicalJson(entry.state)) {
          const a = `${view.status}${view.errorStatus ? `/${view.errorStatus}` : ''}`;
          const b = `${entry.state.status}${entry.state.errorStatus ? `/${entry.state.errorStatus}` : ''}`;
          mismatches.push({ streamId: view.id, position: entry.last, detail: `read model says ${a}, the events ${b}${a === b ? ' (other fields differ)' : ''}` });
        }
      };
      // Every row, a page at a time in the list's own order (one query per thousand, not one per deployment).
      let cursor: string | undefined;
      do {
        const page = await readModel.list({ limit: 1000, ...(cursor === undefined ? {} : { cursor }) });
        for (const view of page.items) compare(view);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      for (const [id, entry] of deployments) {
        if (seen.has(id)) continue;
        if (checkpoint === null || comparePositions(entry.last, checkpoint) > 0) notYetProjected++;
        else {
          checked++;
          mismatches.push({ streamId: id, position: entry.last, detail: 'missing from the read model' });
        }
      }
    }
    const elapsedMs = Date.now() - this.started;
    const report: VerifyReport = {
      ok: this.unknown.length === 0 && this.illegal.length === 0 && mismatches.length === 0 && leaks.length === 0,
      events: this.events,
      streams: this.streams.size,
      deployments: deployments.length,
      ledgerStreams,
      elapsedMs,
      eventsPerSecond: elapsedMs > 0 ? Math.round((this.events * 1000) / elapsedMs) : this.events,
      unknownEvents: { count: this.unknown.length, streams: this.unknown },
      illegalSequences: { count: this.illegal.length, streams: this.illegal },
      readModel: { checked, notYetProjected, mismatches: { count: mismatches.length, streams: mismatches }, ...(readModel ? {} : { skipped: skippedReason ?? 'no read model' }) },
      leaks: { count: leaks.length, streams: leaks },
    };
    return report;
  }
}

export interface VerifyProgress {
  events: number;
  position: Position;
  head: Position | null;
  elapsedMs: number;
}

export interface VerifyOptions {
  readModel?: ReadModel | null;
  /** Said in the report when there is no read model to compare with. */
  readModelSkipped?: string;
  pageSize?: number;
  onProgress?: (progress: VerifyProgress) => void;
}

/** Re-folds every stream of the store up to its head as of the start, and reports what does not hold. */
export async function verifyStore(store: EventStore, options: VerifyOptions = {}): Promise<VerifyReport> {
  const verifier = new StoreVerifier();
  const started = Date.now();
  const head = await store.headPosition();
  for await (const page of scanPages(store, { upTo: head, pageSize: options.pageSize })) {
    verifier.add(page);
    options.onProgress?.({ events: verifier.eventCount, position: (page[page.length - 1] as RecordedEvent).position, head, elapsedMs: Date.now() - started });
  }
  return verifier.finish(options.readModel ?? null, options.readModelSkipped);
}

/** The report as a person reads it: counts, then the offending streams (the first `limit` of each kind). */
export function formatVerifyReport(report: VerifyReport, limit = 20): string {
  const lines: string[] = [];
  const mark = (count: number) => (count === 0 ? 'ok  ' : 'FAIL');
  const list = (problems: readonly StreamProblem[]) => {
    for (const p of problems.slice(0, limit)) lines.push(`       ${p.streamId}  at ${p.position}: ${p.detail}`);
    if (problems.length > limit) lines.push(`       ... and ${problems.length - limit} more (--json lists them all)`);
  };
  lines.push(`verified ${report.events.toLocaleString('en')} events of ${report.deployments.toLocaleString('en')} deployments (${report.streams.toLocaleString('en')} streams, ${report.ledgerStreams} admission ledgers) in ${(report.elapsedMs / 1000).toFixed(1)} s: ${report.eventsPerSecond.toLocaleString('en')} events/s`);
  lines.push(`${mark(report.unknownEvents.count)} unknown event type or schema version: ${report.unknownEvents.count} stream(s)`);
  list(report.unknownEvents.streams);
  lines.push(`${mark(report.illegalSequences.count)} sequences the transition rules do not allow: ${report.illegalSequences.count} stream(s)`);
  list(report.illegalSequences.streams);
  const rm = report.readModel;
  if (rm.skipped) lines.push(`skip read model comparison: ${rm.skipped}`);
  else {
    lines.push(`${mark(rm.mismatches.count)} fold differs from the read model: ${rm.mismatches.count} of ${rm.checked} compared${rm.notYetProjected ? ` (${rm.notYetProjected} not projected yet, not compared)` : ''}`);
    list(rm.mismatches.streams);
  }
  lines.push(`${mark(report.leaks.count)} Terminated but launched resources never released: ${report.leaks.count} deployment(s)`);
  for (const leak of report.leaks.streams.slice(0, limit)) {
    lines.push(`       ${leak.streamId}: ${[...leak.instances.map((i) => `instance ${i}`), ...(leak.workload ? ['its workload'] : [])].join(', ')}`);
  }
  if (report.leaks.count > limit) lines.push(`       ... and ${report.leaks.count - limit} more (--json lists them all)`);
  lines.push(report.ok ? 'all checks hold' : 'some checks FAILED');
  return lines.join('\n');
}
