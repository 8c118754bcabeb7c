import type {
  Actor,
  FailureData,
  FailureDetail,
  NodePlan,
  NodeRole,
  OrphanSweptData,
  PodPlan,
  SimDeploymentEvent,
  SimulationSpec,
  StopReason,
} from './events';
import { ErrorStatus, Status } from './status';

export interface NodeRecord extends NodePlan {
  instanceId?: string;
  nodeName?: string;
  /** The instance was terminated (by the cleanup, or after a late launch). */
  released?: boolean;
}

export interface WaitingRecord {
  stage: Status;
  step: string;
  code: string;
  message: string;
  since: string;
}

export interface FailureRecord extends FailureData {
  kind: ErrorStatus;
}

/** Where the launch stands with the admission ledgers, as recorded on the deployment. */
export interface AdmissionRecord {
  state: 'queued' | 'admitted';
  /** The ledgers holding a share (admitted) or the one it waits in (queued). */
  ledgers: readonly string[];
  since: string;
  /** Its shares were given back when it ended. */
  released?: boolean;
}

export interface SimDeployment {
  id: string;
  owner: string;
  team?: string;
  provider: string;
  spec: SimulationSpec;
  requestedBy: Actor;
  requestedAt: string;
  status: Status;
  errorStatus: ErrorStatus | null;
  /** Timestamp of the event that set the current status: phase deadlines count from it. */
  statusSince: string;
  updatedAt: string;
  runningSince?: string;
  terminatedAt?: string;
  nodes: readonly NodeRecord[];
  pods: readonly PodPlan[];
  services: readonly string[];
  networkPolicies: readonly string[];
  failures: readonly FailureRecord[];
  /** The error status before AdminReview, restored when an admin asks for another cleanup. */
  failedFrom?: ErrorStatus;
  stop?: { at: string; by: Actor; reason: StopReason };
  rejection?: { at: string; reason: string };
  resolution?: { at: string; by: Actor; comment: string };
  /** The workload (pods, services, policies) exists at the provider: created and not deleted since. */
  workloadHeld: boolean;
  /** When the workload was last recorded as created. */
  workloadCreatedAt?: string;
  /** What the current launch step waits for, as the provider last named it; cleared on every status change. */
  waiting?: WaitingRecord;
  /** Removals by the orphan sweep, as recorded on this stream. */
  sweeps: readonly OrphanSweptData[];
  /** Where the pods' logs were archived, once they were (for the workload created last). */
  logs?: { at: string; location: string | null; pods: readonly string[]; error?: string };
  admission?: AdmissionRecord;
  /** Why the running simulation failed, when a pod exited while Running. */
  workloadFailure?: { at: string; error: FailureDetail; logs?: readonly string[] };
}

/** No events yet: the deployment does not exist. */
export type SimDeploymentState = SimDeployment | null;

export const initialState = (): SimDeploymentState => null;

export const latestFailure = (state: SimDeployment): FailureRecord | undefined =>
  state.failures[state.failures.length - 1];

export const nodeFor = (state: SimDeployment, role: NodeRole, index: number): NodeRecord | undefined =>
  state.nodes.find((n) => n.role === role && n.index === index);

/** Instance ids this deployment holds (or may hold) at the provider. */
export const recordedInstanceIds = (state: SimDeployment): string[] =>
  state.nodes.flatMap((n) => (n.instanceId ? [n.instanceId] : []));

/** Recorded instances not yet terminated. */
export const unreleasedInstanceIds = (state: SimDeployment): string[] =>
  state.nodes.flatMap((n) => (n.instanceId && !n.released ? [n.instanceId] : []));

const withStatus = (state: SimDeployment, status: Status, at: string): SimDeployment => {
  // Most states wait for nothing: a plain spread is several times cheaper than a rest copy on a replay.
  if (!('waiting' in state)) return { ...state, status, statusSince: at, updatedAt: at };
  const { waiting: _cleared, ...rest } = state;
  return { ...rest, status, statusSince: at, updatedAt: at };
};

const releasing = (state: SimDeployment, instanceIds?: readonly string[]): SimDeployment['nodes'] =>
  state.nodes.map((n) => (n.instanceId && (!instanceIds || instanceIds.includes(n.instanceId)) ? { ...n, released: true } : n));

const failed = (state: SimDeployment, kind: ErrorStatus, data: FailureData): SimDeployment => ({
  ...state,
  errorStatus: kind,
  failedFrom: kind === ErrorStatus.AdminReview ? (state.errorStatus ?? undefined) : state.failedFrom,
  failures: [...state.failures, { ...data, kind }],
  updatedAt: data.at,
});

/** Folds one event into the state. Never fails: events are facts that already happened. */
export function evolve(state: SimDeploymentState, event: SimDeploymentEvent): SimDeploymentState {
  if (event.type === 'SimulationRequested') {
    const d = event.data;
    return {
      id: d.deploymentId,
      owner: d.owner,
      ...(d.team === undefined ? {} : { team: d.team }),
      provider: d.provider,
      spec: d.spec,
      requestedBy: d.requestedBy,
      requestedAt: d.requestedAt,
      status: Status.Pending,
      errorStatus: null,
      statusSince: d.requestedAt,
      updatedAt: d.requestedAt,
      nodes: [],
      pods: [],
      services: [],
      networkPolicies: [],
      failures: [],
      workloadHeld: false,
      sweeps: [],
    };
  }
  if (state === null) return state;

  switch (event.type) {
    case 'SimulationRejected':
      return { ...withStatus(state, Status.Rejected, event.data.at), rejection: event.data };
    case 'NodesLaunchStarted':
      return { ...withStatus(state, Status.LaunchingNodes, event.data.at), nodes: event.data.nodes.map((n) => ({ ...n })) };
    case 'InstanceLaunched': {
      const { role, index, instanceId, nodeName, at } = event.data;
      return {
        ...state,
        updatedAt: at,
        nodes: state.nodes.map((n) => (n.role === role && n.index === index ? { ...n, instanceId, nodeName } : n)),
      };
    }
    case 'PodsLaunchStarted':
      return {
        ...withStatus(state, Status.LaunchingPods, event.data.at),
        pods: event.data.pods,
        services: event.data.services,
        networkPolicies: event.data.networkPolicies,
      };
    case 'SimulationRunning':
      return { ...withStatus(state, Status.Running, event.data.at), runningSince: event.data.at };
    case 'StopRequested':
      return { ...withStatus(state, Status.ToBeTerminated, event.data.at), stop: event.data };
    case 'PodsDeletionStarted':
      return withStatus(state, Status.DeletingPods, event.data.at);
    case 'NodesDeletionStarted':
      // The pod step ends when the workload is gone.
      return { ...withStatus(state, Status.DeletingNodes, event.data.at), workloadHeld: false };
    case 'InstancesTerminationStarted':
      return withStatus(state, Status.TerminatingInstances, event.data.at);
    case 'SimulationTerminated':
      // The instance step terminated every recorded instance (and any found by tag).
      return { ...withStatus(state, Status.Terminated, event.data.at), terminatedAt: event.data.at, nodes: releasing(state) };
    case 'LaunchFailed':
      return failed(state, ErrorStatus.InitializationFailed, event.data);
    case 'TerminationFailed':
      return failed(state, ErrorStatus.TerminationFailed, event.data);
    case 'AdminReviewRequired':
      return failed(state, ErrorStatus.AdminReview, event.data);
    case 'CleanupRetryRequested':
      return { ...state, errorStatus: state.failedFrom ?? ErrorStatus.TerminationFailed, updatedAt: event.data.at };
    case 'AdminReviewResolved':
      return {
        ...withStatus(state, Status.Terminated, event.data.at),
        terminatedAt: event.data.at,
        resolution: event.data,
        // An admin declared it finished: what it held is theirs to answer for, not the cleanup's.
        nodes: releasing(state),
        workloadHeld: false,
      };
    case 'WorkloadCreated': {
      // A workload created again (a late one) has logs of its own to archive.
      const { logs: _earlier, ...rest } = state;
      return { ...rest, workloadHeld: true, workloadCreatedAt: event.data.at, updatedAt: event.data.at };
    }
    case 'WorkloadDeleted':
      return { ...state, workloadHeld: false, updatedAt: event.data.at };
    case 'InstancesTerminated':
      return { ...state, nodes: releasing(state, event.data.instanceIds), updatedAt: event.data.at };
    case 'WaitingReported': {
      const { at, ...waiting } = event.data;
      return { ...state, waiting: { ...waiting, since: at }, updatedAt: at };
    }
    case 'OrphanSwept':
      return { ...state, sweeps: [...state.sweeps, event.data] };
    case 'SimulationAdmitted':
      return { ...state, admission: { state: 'admitted', ledgers: event.data.ledgers, since: event.data.at }, updatedAt: event.data.at };
    case 'SimulationQueued':
      return { ...state, admission: { state: 'queued', ledgers: [event.data.ledger], since: event.data.at }, updatedAt: event.data.at };
    case 'AdmissionReleased':
      return state.admission ? { ...state, admission: { ...state.admission, released: true }, updatedAt: event.data.at } : state;
    case 'LogsArchived':
      return { ...state, logs: event.data, updatedAt: event.data.at };
    case 'WorkloadFailed':
      return { ...state, workloadFailure: event.data, updatedAt: event.data.at };
    default: {
      const unknownEvent: never = event;
      return unknownEvent;
    }
  }
}

export const fold = (events: readonly SimDeploymentEvent[], from: SimDeploymentState = initialState()): SimDeploymentState =>
  events.reduce(evolve, from);
