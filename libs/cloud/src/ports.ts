import type {
  Deletion,
  FailureDetail,
  NodeRecord,
  NodeRole,
  PendingReason as DomainPendingReason,
  PodPlan,
  Readiness,
  SimulationSpec,
  WorkloadPlan,
} from '@simdeploy/domain';

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

/**
 * Every simulation node registers with this taint (value: the deployment id, effect
 * NoSchedule), so only the deployment's own pods, which tolerate it, run there.
 */
export const DEDICATED_TAINT_KEY = 'simdeploy.io/deployment-id';
/**
 * Labels the control plane itself puts on a node once it has joined; pods are pinned on them.
 * The NodeRestriction admission plugin forbids kubelets to set this prefix, so a node cannot
 * claim to belong to another deployment (the simdeploy.io/ labels it registers with can be
 * set by any kubelet, and only help to find it).
 */
export const NODE_RESTRICTED_DEPLOYMENT_LABEL = 'node-restriction.kubernetes.io/simdeploy-deployment-id';
export const NODE_RESTRICTED_ROLE_LABEL = 'node-restriction.kubernetes.io/simdeploy-node-role';

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

/**
 * A cause worth showing the user while it lasts, as the provider names it (an image pull backing
 * off, a pod the scheduler cannot place). Routine progress (booting, starting) is `detail` only.
 */
export type PendingReason = DomainPendingReason;

/** A readiness answer; the process decider (libs/domain) decides what it means for the deployment. */
export type ReadinessCheck = Readiness;

/** One deployment's machines, for a batched readiness check. */
export interface NodeCheckRequest {
  deploymentId: string;
  nodes: readonly LaunchedNode[];
}

/** One deployment's node names, for a batched join check. */
export interface NodesJoinedCheckRequest {
  deploymentId: string;
  nodeNames: readonly string[];
}

/** One deployment's pods, for a batched workload check. */
export interface WorkloadCheckRequest {
  deploymentId: string;
  pods: readonly PodPlan[];
}

/**
 * Readiness answers of a batch, by deployment id. A request missing from the map could not
 * be checked this time (its check threw): the caller asks again later, its deadline still runs.
 */
export type ReadinessByDeployment = Map<string, ReadinessCheck>;

/** What a deletion did: `gone` says whether nothing of it is left, `forced` names what was removed by force. */
export type DeletionResult = Deletion;

/** How many single checks the default batch implementations run at once. */
export const DEFAULT_BATCH_CONCURRENCY = 8;

/**
 * The default for providers that cannot answer many deployments in one call: the single
 * check per request, a few at a time. A check that throws leaves its request out of the
 * answers, so one broken deployment cannot hide the others'.
 */
export async function checkEach<R extends { deploymentId: string }>(
  requests: readonly R[],
  check: (request: R) => Promise<ReadinessCheck>,
  concurrency = DEFAULT_BATCH_CONCURRENCY,
): Promise<ReadinessByDeployment> {
  const answers: ReadinessByDeployment = new Map();
  let next = 0;
  const worker = async () => {
    while (next < requests.length) {
      const request = requests[next++] as R;
      try {
        answers.set(request.deploymentId, await check(request));
      } catch {
        // Left out: asked again on the next round.
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, requests.length) }, worker));
  return answers;
}

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
  /**
   * checkNodes for many deployments in as few provider calls as the provider allows (one
   * DescribeInstanceStatus for up to 100 instances, say), so waiting costs the same whatever
   * the number waiting. The default checks them one by one.
   */
  checkNodesBatch(requests: readonly NodeCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    return checkEach(requests, (r) => this.checkNodes(r.deploymentId, r.nodes, signal));
  }
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

/** Where the control plane reaches a running simulator's port (for the access proxy). */
export interface SimulatorEndpoint {
  /** e.g. `http://sim-<id>-gzserver.simdeploy.svc.cluster.local:8080` or `http://127.0.0.1:41234`. */
  url: string;
}

export interface ManagedWorkload {
  deploymentId: string;
  pods: string[];
}

export abstract class PodRuntime {
  /** Whether the deployment's machines have joined as nodes and are schedulable. */
  abstract checkNodesJoined(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<ReadinessCheck>;
  /** checkNodesJoined for many deployments at once (one node list); the default checks them one by one. */
  checkNodesJoinedBatch(requests: readonly NodesJoinedCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    return checkEach(requests, (r) => this.checkNodesJoined(r.deploymentId, r.nodeNames, signal));
  }
  /** Creates network policies, then pods and services; objects that exist are left as they are. */
  abstract createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void>;
  /**
   * Ready when every pod runs and passes its readiness check and the simulator runs. A pod
   * that failed or exited is a `failed` check with its reason and last log lines.
   */
  abstract checkWorkload(deploymentId: string, pods: readonly PodPlan[], signal?: AbortSignal): Promise<ReadinessCheck>;
  /**
   * checkWorkload for many deployments at once (one pod list by label for all of them, one
   * pass over the local runtime's state); also how running simulations are watched. The
   * default checks them one by one.
   */
  checkWorkloadBatch(requests: readonly WorkloadCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    return checkEach(requests, (r) => this.checkWorkload(r.deploymentId, r.pods, signal));
  }
  /** Deletes everything labelled with the deployment id; answers whether it is all gone. */
  abstract deleteWorkload(deploymentId: string, signal?: AbortSignal): Promise<DeletionResult>;
  /** Cordons, drains and deletes the deployment's node objects; answers whether they are gone. */
  abstract deleteNodes(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<DeletionResult>;
  /** Every workload carrying the control plane's label, for the orphan sweep. */
  abstract listManagedWorkloads(signal?: AbortSignal): Promise<ManagedWorkload[]>;
  /** Where the simulator of a running deployment listens, or null while it has no address yet. */
  abstract simulatorEndpoint(deploymentId: string, signal?: AbortSignal): Promise<SimulatorEndpoint | null>;
  /** The last `tail` lines a pod wrote (stdout and stderr); empty when it wrote nothing or is gone. */
  abstract readLogs(deploymentId: string, podName: string, tail: number, signal?: AbortSignal): Promise<string[]>;
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

/**
 * Where a simulation's pod logs are kept after its pods are gone: a local folder by default,
 * S3 when configured. Logs are plain lines; one entry per deployment and pod.
 */
export abstract class LogArchive {
  /** Stores a pod's lines (replacing an earlier copy); answers where they are, for the record. */
  abstract store(deploymentId: string, podName: string, lines: readonly string[], signal?: AbortSignal): Promise<string>;
  /** The last `tail` archived lines of a pod, or null when nothing was archived for it. */
  abstract read(deploymentId: string, podName: string, tail: number, signal?: AbortSignal): Promise<string[] | null>;
}

/** Logs kept in this process only: for tests, and for wiring that has nowhere else to put them. */
export class InMemoryLogArchive extends LogArchive {
  private readonly entries = new Map<string, readonly string[]>();

  async store(deploymentId: string, podName: string, lines: readonly string[]): Promise<string> {
    this.entries.set(`${deploymentId}/${podName}`, [...lines]);
    return `memory://${deploymentId}/${podName}`;
  }

  async read(deploymentId: string, podName: string, tail: number): Promise<string[] | null> {
    const lines = this.entries.get(`${deploymentId}/${podName}`);
    return lines ? lines.slice(Math.max(0, lines.length - tail)) : null;
  }
}
