import type { RecordedEventView, Status } from './types';

/** The events that move a simulation to a status (the lifecycle of the README). */
const STATUS_AFTER: Record<string, Status> = {
  SimulationRequested: 'Pending',
  SimulationRejected: 'Rejected',
  NodesLaunchStarted: 'LaunchingNodes',
  PodsLaunchStarted: 'LaunchingPods',
  SimulationRunning: 'Running',
  StopRequested: 'ToBeTerminated',
  PodsDeletionStarted: 'DeletingPods',
  NodesDeletionStarted: 'DeletingNodes',
  InstancesTerminationStarted: 'TerminatingInstances',
  SimulationTerminated: 'Terminated',
  AdminReviewResolved: 'Terminated',
};

export const FAILURE_EVENTS = new Set(['LaunchFailed', 'TerminationFailed', 'AdminReviewRequired']);

export interface Phase {
  status: Status;
  startedAt: string;
  /** null while the simulation is still in it. */
  endedAt: string | null;
  durationMs: number;
}

/** When the event happened: the time the domain recorded in it, else when the store did. */
export const eventTime = (event: RecordedEventView): string => (typeof event.data['at'] === 'string' ? event.data['at'] : event.recordedAt);

/** The statuses a simulation went through and how long it spent in each; the last one runs until `now`, unless final. */
export function phasesOf(events: readonly RecordedEventView[], now: Date): Phase[] {
  const phases: Phase[] = [];
  for (const event of events) {
    const status = STATUS_AFTER[event.type];
    if (!status) continue;
    const at = event.type === 'SimulationRequested' && typeof event.data['requestedAt'] === 'string' ? event.data['requestedAt'] : eventTime(event);
    const previous = phases[phases.length - 1];
    if (previous?.status === status) continue;
    if (previous) {
      previous.endedAt = at;
      previous.durationMs = Math.max(0, Date.parse(at) - Date.parse(previous.startedAt));
    }
    phases.push({ status, startedAt: at, endedAt: null, durationMs: 0 });
  }
  const last = phases[phases.length - 1];
  if (last && last.status !== 'Terminated' && last.status !== 'Rejected') {
    last.durationMs = Math.max(0, now.getTime() - Date.parse(last.startedAt));
  }
  return phases;
}

export function formatDuration(ms: number): string {
  if (ms < 1_000) return `${ms} ms`;
  const seconds = ms / 1_000;
  if (seconds < 60) return `${seconds.toFixed(seconds < 10 ? 1 : 0)} s`;
  const minutes = Math.floor(seconds / 60);
  if (minutes < 60) return `${minutes} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(minutes / 60)} h ${minutes % 60} min`;
}
