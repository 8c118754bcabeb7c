import type { ErrorStatus, Status } from '../lib/types';

const TONE: Record<Status, string> = {
  Pending: 'waiting',
  LaunchingNodes: 'busy',
  LaunchingPods: 'busy',
  Running: 'good',
  ToBeTerminated: 'busy',
  DeletingPods: 'busy',
  DeletingNodes: 'busy',
  TerminatingInstances: 'busy',
  Terminated: 'done',
  Rejected: 'bad',
};

export function StatusBadge({ status }: { status: Status }) {
  return <span className={`badge badge-${TONE[status]}`}>{status}</span>;
}

export function ErrorBadge({ errorStatus }: { errorStatus: ErrorStatus | null }) {
  if (!errorStatus) return <span className="muted">none</span>;
  return <span className="badge badge-bad">{errorStatus}</span>;
}
