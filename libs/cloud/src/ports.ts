import type { FailureDetail, NodeRecord, NodeRole, PodPlan, SimulationSpec, WorkloadPlan } from '@simdeploy/domain';

/**
 * Ports to the infrastructure. Every call is idempotent: calling it again after a crash, a
 * timeout or a redelivery does no harm and creates nothing twice. Waiting is the caller's
 * business: the `check*` calls answer at once, so a worker is never held by slow machines.
 */

/** Tag/label every provider puts on what it creates, so the orphan sweep can find it. */
export const CONTROL_PLANE_TAG = 'simdeploy.io/managed-by';
export const CONTROL_PLANE_TAG_VALUE = 'simdeploy';
export const DEPLOYMENT_TAG = 'simdeploy.io/deployment-id';
export const OWNER_TAG = 'simdeploy.io/owner';
export const NODE_ROLE_TAG = 'simdeploy.io/node-role';

export interface NodeRequest {
  deploymentId: string;
  owner: string;
  role: NodeRole;
  index: number;
  /** Same token for every retry of the same node (EC2 ClientToken). */
  clientToken: string;
  instanceType: string;
  labels: Readonly<Record<string, string>>;
}

export interface LaunchedNode {
  instanceId: string;
  /** The name the machine has as a Kubernetes node (or local slot name). */
  nodeName: string;
}

export type ReadinessCheck =
  | { state: 'ready' }
  | { state: 'pending'; detail?: string }
  | { state: 'failed'; error: FailureDetail; logs?: string[] };

export interface ManagedInstance {
  instanceId: string;
  deploymentId: string | null;
  state: string;
  launchedAt?: string;
  clientToken?: string;
}

export abstract class NodeProvider {
  /** Starts the machine for one planned node, or finds the one an earlier call started. */
  abstract launchNode(request: NodeRequest, signal?: AbortSignal): Promise<LaunchedNode>;
  /** Whether the machines are up (running and status checks passed). */
  abstract checkNodes(deploymentId: string, nodes: readonly LaunchedNode[], signal?: AbortSignal): Promise<ReadinessCheck>;
  /** Terminates instances; ids already gone count as done. */
  abstract terminateInstances(deploymentId: string, instanceIds: readonly string[], signal?: AbortSignal): Promise<void>;
  /**
   * Terminates whatever the provider holds for the deployment, including an instance whose
   * id was never recorded (found by tag or client token). Returns the ids it terminated.
   */
  abstract terminateDeployment(deploymentId: string, signal?: AbortSignal): Promise<string[]>;
  /** Everything carrying the control plane's tag, for the orphan sweep. */
  abstract listManagedInstances(signal?: AbortSignal): Promise<ManagedInstance[]>;
}

export interface WorkloadRequest {
  deploymentId: string;
  owner: string;
  spec: SimulationSpec;
  plan: WorkloadPlan;
  /** The deployment's nodes, with their node names, to pin pods to. */
  nodes: readonly NodeRecord[];
}

export interface ManagedWorkload {
  deploymentId: string;
  pods: string[];
}

export abstract class PodRuntime {
  /** Whether the deployment's machines have joined as nodes and are schedulable. */
  abstract checkNodesJoined(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<ReadinessCheck>;
  /** Creates network policies, then pods and services; objects that exist are left as they are. */
  abstract createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void>;
  /**
   * Ready when every pod runs and passes its readiness check and the simulator runs. A pod
   * that failed or exited is a `failed` check with its reason and last log lines.
   */
  abstract checkWorkload(deploymentId: string, pods: readonly PodPlan[], signal?: AbortSignal): Promise<ReadinessCheck>;
  /** Deletes everything labelled with the deployment id; answers whether it is all gone. */
  abstract deleteWorkload(deploymentId: string, signal?: AbortSignal): Promise<{ gone: boolean }>;
  /** Cordons, drains and deletes the deployment's node objects; answers whether they are gone. */
  abstract deleteNodes(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<{ gone: boolean }>;
  /** Every workload carrying the control plane's label, for the orphan sweep. */
  abstract listManagedWorkloads(signal?: AbortSignal): Promise<ManagedWorkload[]>;
}

/**
 * A provider's failure, sorted for the failure handling: transient errors (throttling,
 * capacity) are retried with backoff, permanent ones fail the step at once.
 */
export class ProviderError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly transient: boolean,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'ProviderError';
  }

  toFailure(): FailureDetail {
    return { code: this.code, message: this.message, transient: this.transient };
  }
}
