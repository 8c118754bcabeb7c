/** The shapes of the gateway's answers, as the dashboard reads them (the OpenAPI at /docs-json describes them). */

export type Status =
  | 'Pending'
  | 'LaunchingNodes'
  | 'LaunchingPods'
  | 'Running'
  | 'ToBeTerminated'
  | 'DeletingPods'
  | 'DeletingNodes'
  | 'TerminatingInstances'
  | 'Terminated'
  | 'Rejected';

export type ErrorStatus = 'InitializationFailed' | 'TerminationFailed' | 'AdminReview';

export const STATUSES: readonly Status[] = [
  'Pending',
  'LaunchingNodes',
  'LaunchingPods',
  'Running',
  'ToBeTerminated',
  'DeletingPods',
  'DeletingNodes',
  'TerminatingInstances',
  'Terminated',
  'Rejected',
];
export const ERROR_STATUSES: readonly ErrorStatus[] = ['InitializationFailed', 'TerminationFailed', 'AdminReview'];
export const FINAL_STATUSES: readonly Status[] = ['Terminated', 'Rejected'];

export interface Failure {
  stage: Status;
  step: string;
  code: string;
  message: string;
  transient: boolean;
  attempt: number;
  at: string;
}

export interface SimulationView {
  id: string;
  owner: string;
  status: Status;
  errorStatus: ErrorStatus | null;
  failureReason: string | null;
  failure: Failure | null;
  requestedAt: string;
  statusSince: string;
  updatedAt: string;
  runningSince: string | null;
  terminatedAt: string | null;
  provider: string;
  spec: {
    world: string;
    simulatorImage: string;
    robots: { name: string; image: string }[];
    nodeInstanceType: string;
    maxDurationSeconds?: number;
    labels: Record<string, string>;
  };
  nodes: { role: string; index: number; instanceId: string | null; nodeName: string | null }[];
  pods: { name: string; role: string; robot: string | null }[];
  stop: { at: string; by: string; reason: string } | null;
  resolution: { at: string; by: string; comment: string } | null;
  /** Where the launch stands with the owner's, team's or machines' limits; null when none applied. */
  admission?: { state: 'queued' | 'admitted' | 'withdrawn'; since: string; waitingFor: string | null; place: number | null; released: boolean } | null;
  /** Where the API offers them (not yet): the simulation's logs and its access link. */
  links?: { logs?: string; access?: string };
}

export interface SimulationList {
  items: SimulationView[];
  total: number;
  limit: number;
  offset: number;
  /** Given by a list that pages with cursors; offsets otherwise. */
  nextCursor?: string | null;
}

export interface RecordedEventView {
  revision?: string;
  position?: string;
  recordedAt: string;
  type: string;
  data: Record<string, unknown>;
}

/** The data of one `change` message of GET /simulations/stream. */
export interface SimulationChange {
  position: string;
  deploymentId: string;
  revision: string;
  event: RecordedEventView;
  view: SimulationView;
}

/** A failure as the domain records it (the view's `failure` flattens the latest one). */
export interface FailureRecord {
  at: string;
  stage: Status;
  step: string;
  error: { code: string; message: string; transient: boolean };
  attempt: number;
  kind: ErrorStatus;
}

export interface ReviewView extends SimulationView {
  failures: FailureRecord[];
  held: { instances: string[]; nodes: string[]; pods: string[]; services: string[]; networkPolicies: string[] };
}
