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

export type StopReason = 'user' | 'max-duration' | 'admin';

export type SimulationRequested = Event<
  'SimulationRequested',
  { deploymentId: string; owner: string; requestedAt: string; requestedBy: Actor; spec: SimulationSpec; provider: string }
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
export type NodesDeletionStarted = Event<'NodesDeletionStarted', { at: string }>;
export type InstancesTerminationStarted = Event<'InstancesTerminationStarted', { at: string }>;
export type SimulationTerminated = Event<'SimulationTerminated', { at: string }>;
export type LaunchFailed = Event<'LaunchFailed', FailureData>;
export type TerminationFailed = Event<'TerminationFailed', FailureData>;
export type AdminReviewRequired = Event<'AdminReviewRequired', FailureData>;
export type CleanupRetryRequested = Event<'CleanupRetryRequested', { at: string; by: Actor }>;
export type AdminReviewResolved = Event<'AdminReviewResolved', { at: string; by: Actor; comment: string }>;

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
  | AdminReviewResolved;

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
];

export const isSimDeploymentEvent = (value: unknown): value is SimDeploymentEvent =>
  typeof value === 'object' &&
  value !== null &&
  SIM_DEPLOYMENT_EVENT_TYPES.includes((value as { type?: unknown }).type as SimDeploymentEventType) &&
  typeof (value as { data?: unknown }).data === 'object';
