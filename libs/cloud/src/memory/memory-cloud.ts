import {
  NodeProvider,
  PodRuntime,
  type DeletionResult,
  type LaunchedNode,
  type ManagedInstance,
  type ManagedWorkload,
  type NodeCheckRequest,
  type NodeRequest,
  type NodesJoinedCheckRequest,
  type ReadinessByDeployment,
  type WorkloadCheckRequest,
  type ReadinessCheck,
  type SimulatorEndpoint,
  type WorkloadRequest,
} from '../ports';
import type { PodPlan } from '@simdeploy/domain';

export interface MemoryCloudOptions {
  /** A machine is up this long after its launch. Default 0. */
  bootMs?: number;
  /** A workload is ready this long after its creation. Default 0. */
  readyMs?: number;
  /** Deleting a workload takes this many calls before it is gone (a grace period). Default 1. */
  deleteCalls?: number;
  clock?: () => number;
}

interface Instance {
  deploymentId: string;
  clientToken: string;
  launchedAt: number;
}

interface Workload {
  pods: string[];
  createdAt: number;
  deleteCallsLeft?: number;
  exited?: { pod: string; code: number; logs: string[] };
}

/**
 * A cloud in this process's memory, for fast tests of what drives the providers: idempotent
 * launches by client token, machines that boot and workloads that get ready after a while,
 * deletions that take a few calls, pods that can be made to exit. Counts every call, so a
 * test can say how many creates a launch cost.
 */
export class MemoryCloud {
  readonly instances = new Map<string, Instance>();
  readonly workloads = new Map<string, Workload>();
  readonly calls = new Map<string, number>();
  readonly nodes: NodeProvider;
  readonly pods: PodRuntime;
  private readonly clock: () => number;

  constructor(private readonly options: MemoryCloudOptions = {}) {
    this.clock = options.clock ?? Date.now;
    this.nodes = new MemoryNodes(this);
    this.pods = new MemoryPods(this);
  }

  count(operation: string, deploymentId?: string): number {
    return this.calls.get(deploymentId === undefined ? operation : `${operation}:${deploymentId}`) ?? 0;
  }

  /** Makes a pod of the deployment exit, as a crashed simulator would. */
  exit(deploymentId: string, pod: string, code: number, logs: string[] = []): void {
    const workload = this.workloads.get(deploymentId);
    if (workload) workload.exited = { pod, code, logs };
  }

  /** What the cloud still holds for a deployment. */
  held(deploymentId: string): { instances: string[]; workload: boolean } {
    return {
      instances: [...this.instances.entries()].filter(([, i]) => i.deploymentId === deploymentId).map(([id]) => id),
      workload: this.workloads.has(deploymentId),
    };
  }

  /** @internal */
  record(operation: string, deploymentId: string): void {
    for (const key of [operation, `${operation}:${deploymentId}`]) this.calls.set(key, (this.calls.get(key) ?? 0) + 1);
  }

  /** @internal */
  now(): number {
    return this.clock();
  }

  /** @internal */
  get bootMs(): number {
    return this.options.bootMs ?? 0;
  }

  /** @internal */
  get readyMs(): number {
    return this.options.readyMs ?? 0;
  }

  /** @internal */
  get deleteCalls(): number {
    return this.options.deleteCalls ?? 1;
  }
}

const instanceIdFor = (clientToken: string): string => `i-mem-${clientToken}`;

class MemoryNodes extends NodeProvider {
  constructor(private readonly cloud: MemoryCloud) {
    super();
  }

  async launchNode(request: NodeRequest): Promise<LaunchedNode> {
    this.cloud.record('launchNode', request.deploymentId);
    const instanceId = instanceIdFor(request.clientToken);
    if (!this.cloud.instances.has(instanceId)) {
      this.cloud.instances.set(instanceId, { deploymentId: request.deploymentId, clientToken: request.clientToken, launchedAt: this.cloud.now() });
    }
    return { instanceId, nodeName: `node-${request.clientToken}` };
  }

  async checkNodes(deploymentId: string, nodes: readonly LaunchedNode[]): Promise<ReadinessCheck> {
    this.cloud.record('checkNodes', deploymentId);
    return this.readiness(nodes);
  }

  /** One call for every deployment asked about, as a cloud API that takes many ids would answer. */
  override async checkNodesBatch(requests: readonly NodeCheckRequest[]): Promise<ReadinessByDeployment> {
    this.cloud.record('checkNodesBatch', 'all');
    return new Map(requests.map((r) => [r.deploymentId, this.readiness(r.nodes)]));
  }

  private readiness(nodes: readonly LaunchedNode[]): ReadinessCheck {
    for (const node of nodes) {
      const instance = this.cloud.instances.get(node.instanceId);
      if (!instance) return { state: 'failed', error: { code: 'InstanceNotFound', message: `${node.instanceId} is gone`, transient: false } };
      if (instance.launchedAt + this.cloud.bootMs > this.cloud.now()) return { state: 'pending', detail: `${node.instanceId} booting` };
    }
    return { state: 'ready' };
  }

  async terminateInstances(deploymentId: string, instanceIds: readonly string[]): Promise<void> {
    this.cloud.record('terminateInstances', deploymentId);
    for (const id of instanceIds) this.cloud.instances.delete(id);
  }

  async terminateDeployment(deploymentId: string): Promise<string[]> {
    this.cloud.record('terminateDeployment', deploymentId);
    const ids = [...this.cloud.instances.entries()].filter(([, i]) => i.deploymentId === deploymentId).map(([id]) => id);
    for (const id of ids) this.cloud.instances.delete(id);
    return ids;
  }

  async listManagedInstances(): Promise<ManagedInstance[]> {
    return [...this.cloud.instances.entries()].map(([instanceId, i]) => ({
      instanceId,
      deploymentId: i.deploymentId,
      state: 'running',
      clientToken: i.clientToken,
      launchedAt: new Date(i.launchedAt).toISOString(),
    }));
  }
}

class MemoryPods extends PodRuntime {
  constructor(private readonly cloud: MemoryCloud) {
    super();
  }

  async checkNodesJoined(deploymentId: string): Promise<ReadinessCheck> {
    this.cloud.record('checkNodesJoined', deploymentId);
    return { state: 'ready' };
  }

  async createWorkload(request: WorkloadRequest): Promise<void> {
    this.cloud.record('createWorkload', request.deploymentId);
    if (!this.cloud.workloads.has(request.deploymentId)) {
      this.cloud.workloads.set(request.deploymentId, { pods: request.plan.pods.map((p) => p.name), createdAt: this.cloud.now() });
    }
  }

  override async checkNodesJoinedBatch(requests: readonly NodesJoinedCheckRequest[]): Promise<ReadinessByDeployment> {
    this.cloud.record('checkNodesJoinedBatch', 'all');
    return new Map(requests.map((r) => [r.deploymentId, { state: 'ready' }]));
  }

  override async checkWorkloadBatch(requests: readonly WorkloadCheckRequest[]): Promise<ReadinessByDeployment> {
    this.cloud.record('checkWorkloadBatch', 'all');
    return new Map(requests.map((r) => [r.deploymentId, this.readiness(r.deploymentId, r.pods)]));
  }

  async checkWorkload(deploymentId: string, pods: readonly PodPlan[]): Promise<ReadinessCheck> {
    this.cloud.record('checkWorkload', deploymentId);
    return this.readiness(deploymentId, pods);
  }

  private readiness(deploymentId: string, pods: readonly PodPlan[]): ReadinessCheck {
    const workload = this.cloud.workloads.get(deploymentId);
    if (!workload) return { state: 'pending', detail: `${pods.length} pods not created` };
    if (workload.exited) {
      const { pod, code, logs } = workload.exited;
      return { state: 'failed', error: { code: 'PodExited', message: `pod ${pod} exited with code ${code}`, transient: false }, logs };
    }
    return workload.createdAt + this.cloud.readyMs > this.cloud.now() ? { state: 'pending', detail: 'starting' } : { state: 'ready' };
  }

  async deleteWorkload(deploymentId: string): Promise<DeletionResult> {
    this.cloud.record('deleteWorkload', deploymentId);
    const workload = this.cloud.workloads.get(deploymentId);
    if (!workload) return { gone: true };
    workload.deleteCallsLeft = (workload.deleteCallsLeft ?? this.cloud.deleteCalls) - 1;
    if (workload.deleteCallsLeft > 0) return { gone: false, detail: 'terminating' };
    this.cloud.workloads.delete(deploymentId);
    return { gone: true };
  }

  async deleteNodes(deploymentId: string): Promise<DeletionResult> {
    this.cloud.record('deleteNodes', deploymentId);
    return { gone: true };
  }

  async listManagedWorkloads(): Promise<ManagedWorkload[]> {
    return [...this.cloud.workloads.entries()].map(([deploymentId, w]) => ({ deploymentId, pods: w.pods }));
  }

  async simulatorEndpoint(): Promise<SimulatorEndpoint | null> {
    return null;
  }

  async readLogs(): Promise<string[]> {
    return [];
  }
}
