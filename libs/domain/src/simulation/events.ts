import type { Status } from './status';

/** A plain, JSON-serialisable event record. */
export type Event<Type extends string, Data extends object> = Readonly<{ type: Type; data: Readonly<Data> }>;

/** Who asked for something: the JWT subject and roles, or a service acting on its own. */
export interface Actor {
  subject: string;
  roles: readonly string[];
}

export interface RobotSpec {
  name: string;
  image: string;
}

/** Kubernetes-style quantities: cpu `"2"` or `"500m"`, memory `"8Gi"`; gpu a whole number. */
export interface ResourceRequest {
  cpu?: string;
  memory?: string;
  gpu?: number;
}

export interface SimulationSpec {
  world: string;
  simulatorImage: string;
  robots: readonly RobotSpec[];
  nodeInstanceType: string;
  /** Stop automatically this long after reaching Running. */
  maxDurationSeconds?: number;
  labels: Readonly<Record<string, string>>;
  /** Requests (and limits) per pod role; the runtime's defaults for the instance type otherwise. */
  resources?: Readonly<{ simulator?: ResourceRequest; robot?: ResourceRequest }>;
}

export type NodeRole = 'simulator' | 'robots';

export interface NodePlan {
  role: NodeRole;
  index: number;
  /** Idempotency token for the provider (EC2 ClientToken): a retry never creates a second machine. */
  clientToken: string;
  instanceType: string;
}

export type PodRole = 'simulator' | 'robot' | 'bridge';

export interface PodPlan {
  name: string;
  role: PodRole;
  image: string;
  /** Which node role the pod is pinned to. */
  nodeRole: NodeRole;
  /** Robot name for robot and bridge pods. */
  robot?: string;
}

export interface WorkloadPlan {
  pods: readonly PodPlan[];
  services: readonly string[];
  networkPolicies: readonly string[];
}

/** What a provider said when a step failed. */
export interface FailureDetail {
  code: string;
  message: string;
  /** Throttling or capacity: worth retrying later. */
  transient: boolean;
}

export type FailureSource = 'worker' | 'error-handler';

export interface FailureData {
  at: string;
  /** The status in which the failing step ran. */
  stage: Status;
  /** The named step inside the stage, e.g. `waitNodesReady`. */
  step: string;
  error: FailureDetail;
  /** How many times the step was tried before it was declared failed. */
  attempt: number;
}

export type StopReason = 'user' | 'max-duration' | 'admin' | 'workload-failed';

/** Why the orphan sweep removed (or, in a dry run, would have removed) a resource. */
export type OrphanReason = 'deployment-terminated' | 'deployment-rejected' | 'deployment-unknown' | 'unrecorded-after-launch-deadline';
export type SweptResourceKind = 'instance' | 'workload';

export interface OrphanSweptData {
  at: string;
  provider: string;
  kind: SweptResourceKind;
  /** The instance id, or for a workload the deployment id its objects are labelled with. */
  resourceId: string;
  reason: OrphanReason;
  dryRun: boolean;
  /** The deployment the resource was labelled with, when it was not recorded on that deployment's own stream. */
  deploymentId?: string | null;
}

export type SimulationRequested = Event<
  'SimulationRequested',
  {
    deploymentId: string;
    owner: string;
    /** The owner's team, when teams are configured: its members see and stop it, and limits apply per team. */
    team?: string;
    requestedAt: string;
    requestedBy: Actor;
    spec: SimulationSpec;
    provider: string;
  }
>;
export type SimulationRejected = Event<'SimulationRejected', { at: string; reason: string }>;
export type NodesLaunchStarted = Event<'NodesLaunchStarted', { at: string; nodes: readonly NodePlan[] }>;
export type InstanceLaunched = Event<
  'InstanceLaunched',
  { at: string; role: NodeRole; index: number; clientToken: string; instanceId: string; nodeName: string }
>;
export type PodsLaunchStarted = Event<'PodsLaunchStarted', { at: string } & WorkloadPlan>;
export type SimulationRunning = Event<'SimulationRunning', { at: string }>;
export type StopRequested = Event<'StopRequested', { at: string; by: Actor; reason: StopReason }>;
export type PodsDeletionStarted = Event<'PodsDeletionStarted', { at: string }>;
/** The workload is gone; pods that had to be removed by force (stuck on a lost node, say) are named. */
export type NodesDeletionStarted = Event<'NodesDeletionStarted', { at: string; forcedPods?: readonly string[] }>;
export type InstancesTerminationStarted = Event<'InstancesTerminationStarted', { at: string }>;
export type SimulationTerminated = Event<'SimulationTerminated', { at: string }>;
export type LaunchFailed = Event<'LaunchFailed', FailureData>;
export type TerminationFailed = Event<'TerminationFailed', FailureData>;
export type AdminReviewRequired = Event<'AdminReviewRequired', FailureData>;
export type CleanupRetryRequested = Event<'CleanupRetryRequested', { at: string; by: Actor }>;
export type AdminReviewResolved = Event<'AdminReviewResolved', { at: string; by: Actor; comment: string }>;
/** The pods, services and network policies of the plan were created: never asked for twice. */
export type WorkloadCreated = Event<'WorkloadCreated', { at: string }>;
/**
 * A workload created after the cleanup had passed its pod step (a stop overtook the launch)
 * was deleted. The normal pod step needs no such record: NodesDeletionStarted says it.
 */
export type WorkloadDeleted = Event<'WorkloadDeleted', { at: string; forcedPods?: readonly string[] }>;
/** Instances recorded after the cleanup had terminated the others (a late launch) were terminated. */
export type InstancesTerminated = Event<'InstancesTerminated', { at: string; instanceIds: readonly string[] }>;
/** What a launch step waits for, when the provider names it (an image pull backing off, say); recorded when it changes. */
export type WaitingReported = Event<'WaitingReported', { at: string; stage: Status; step: string; code: string; message: string }>;
/**
 * While it was Running, a pod of the simulation exited or failed (the simulator crashed, a robot
 * died): what the runtime said and the pod's last log lines. The deployment stops itself next.
 */
export type WorkloadFailed = Event<'WorkloadFailed', { at: string; error: FailureDetail; logs?: readonly string[] }>;
/**
 * The pods' logs were copied to the archive before the workload was deleted, so they stay
 * readable after the simulation ended; `location` is null when archiving failed (and says why).
 */
export type LogsArchived = Event<'LogsArchived', { at: string; location: string | null; pods: readonly string[]; error?: string }>;
/** Admission ledgers (an owner's limit, a provider's capacity) let the launch provision; `ledgers` names them. */
export type SimulationAdmitted = Event<'SimulationAdmitted', { at: string; ledgers: readonly string[] }>;
/** The launch waits in line in a ledger (its place is the ledger's to say) before it provisions anything. */
export type SimulationQueued = Event<'SimulationQueued', { at: string; ledger: string }>;
/** The launch gave its share of the ledgers back when it ended. */
export type AdmissionReleased = Event<'AdmissionReleased', { at: string; ledgers: readonly string[] }>;
/** The orphan sweep removed something this deployment (or, on the `sweep` stream, no deployment) held. */
export type OrphanSwept = Event<'OrphanSwept', OrphanSweptData>;

export type SimDeploymentEvent =
  | SimulationRequested
  | SimulationRejected
  | NodesLaunchStarted
  | InstanceLaunched
  | PodsLaunchStarted
  | SimulationRunning
  | StopRequested
  | PodsDeletionStarted
  | NodesDeletionStarted
  | InstancesTerminationStarted
  | SimulationTerminated
  | LaunchFailed
  | TerminationFailed
  | AdminReviewRequired
  | CleanupRetryRequested
  | AdminReviewResolved
  | WorkloadCreated
  | WorkloadDeleted
  | InstancesTerminated
  | WaitingReported
  | WorkloadFailed
  | LogsArchived
  | SimulationAdmitted
  | SimulationQueued
  | AdmissionReleased
  | OrphanSwept;

export type SimDeploymentEventType = SimDeploymentEvent['type'];

export const SIM_DEPLOYMENT_EVENT_TYPES: readonly SimDeploymentEventType[] = [
  'SimulationRequested',
  'SimulationRejected',
  'NodesLaunchStarted',
  'InstanceLaunched',
  'PodsLaunchStarted',
  'SimulationRunning',
  'StopRequested',
  'PodsDeletionStarted',
  'NodesDeletionStarted',
  'InstancesTerminationStarted',
  'SimulationTerminated',
  'LaunchFailed',
  'TerminationFailed',
  'AdminReviewRequired',
  'CleanupRetryRequested',
  'AdminReviewResolved',
  'WorkloadCreated',
  'WorkloadDeleted',
  'InstancesTerminated',
  'WaitingReported',
  'WorkloadFailed',
  'LogsArchived',
  'SimulationAdmitted',
  'SimulationQueued',
  'AdmissionReleased',
  'OrphanSwept',
];

export const isSimDeploymentEvent = (value: unknown): value is SimDeploymentEvent =>
  typeof value === 'object' &&
  value !== null &&
  SIM_DEPLOYMENT_EVENT_TYPES.includes((value as { type?: unknown }).type as SimDeploymentEventType) &&
  typeof (value as { data?: unknown }).data === 'object';
