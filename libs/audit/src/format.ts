import { upcast, type SimDeploymentEvent } from '@simdeploy/domain';
import type { RecordedEvent } from '@simdeploy/event-store';

const actor = (a: { subject: string }) => a.subject;

/** One short line about what an event says, for the table. */
export function summarize(event: SimDeploymentEvent): string {
  switch (event.type) {
    case 'SimulationRequested':
      return `owner ${event.data.owner} on ${event.data.provider}: ${event.data.spec.world}, ${event.data.spec.robots.length} robot(s), ${event.data.spec.nodeInstanceType}`;
    case 'SimulationRejected':
      return event.data.reason;
    case 'NodesLaunchStarted':
      return `${event.data.nodes.length} node(s): ${event.data.nodes.map((n) => `${n.role}#${n.index} ${n.instanceType}`).join(', ')}`;
    case 'InstanceLaunched':
      return `${event.data.role}#${event.data.index} ${event.data.instanceId} (${event.data.nodeName})`;
    case 'PodsLaunchStarted':
      return `${event.data.pods.length} pod(s), ${event.data.services.length} service(s)`;
    case 'StopRequested':
      return `by ${actor(event.data.by)} (${event.data.reason})`;
    case 'NodesDeletionStarted':
    case 'WorkloadDeleted':
      return event.data.forcedPods?.length ? `forced: ${event.data.forcedPods.join(', ')}` : '';
    case 'LaunchFailed':
    case 'TerminationFailed':
    case 'AdminReviewRequired':
      return `${event.data.stage}/${event.data.step}: ${event.data.error.code} ${event.data.error.message} (attempt ${event.data.attempt})`;
    case 'CleanupRetryRequested':
      return `by ${actor(event.data.by)}`;
    case 'AdminReviewResolved':
      return `by ${actor(event.data.by)}: ${event.data.comment}`;
    case 'InstancesTerminated':
      return event.data.instanceIds.join(', ');
    case 'WaitingReported':
      return `${event.data.step}: ${event.data.code} ${event.data.message}`;
    case 'WorkloadFailed':
      return `${event.data.error.code} ${event.data.error.message}`;
    case 'LogsArchived':
      return event.data.location ?? `not archived: ${event.data.error ?? 'unknown error'}`;
    case 'SimulationAdmitted':
    case 'AdmissionReleased':
      return event.data.ledgers.join(', ');
    case 'SimulationQueued':
      return event.data.ledger;
    case 'OrphanSwept':
      return `${event.data.kind} ${event.data.resourceId} (${event.data.reason}${event.data.dryRun ? ', dry run' : ''})`;
    default:
      return '';
  }
}

const clip = (text: string, width: number) => (text.length > width ? `${text.slice(0, width - 1)}…` : text);

export const TABLE_HEADER = `${'POSITION'.padStart(12)}  ${'RECORDED AT'.padEnd(24)}  ${'DEPLOYMENT'.padEnd(36)}  ${'TYPE'.padEnd(27)}  SUMMARY`;

/** One table row: position, time, deployment, type and what it says. Events of other kinds (ledger records) show their type only. */
export function tableRow(event: RecordedEvent): string {
  const domain = upcast(event);
  const summary = domain ? summarize(domain) : '';
  return `${event.position.padStart(12)}  ${event.recordedAt.padEnd(24)}  ${clip(event.streamId, 36).padEnd(36)}  ${clip(event.type, 27).padEnd(27)}  ${clip(summary, 100)}`.trimEnd();
}

/** One NDJSON line: the event as recorded, store fields first. */
/** An event as the NDJSON listing and the export write it: the same members in the same order. */
export const eventRecord = (event: RecordedEvent) => ({
  position: event.position,
  recordedAt: event.recordedAt,
  streamId: event.streamId,
  revision: event.revision,
  type: event.type,
  data: event.data,
  metadata: event.metadata ?? {},
});

export function jsonLine(event: RecordedEvent): string {
  return JSON.stringify(eventRecord(event));
}
