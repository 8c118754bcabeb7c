import type { FailureDetail } from '@simdeploy/domain';
import {
  LaunchedNode,
  DeletionResult,
  ManagedInstance,
  ManagedWorkload,
  NodeCheckRequest,
  NodeProvider,
  NodeRequest,
  NodesJoinedCheckRequest,
  ReadinessByDeployment,
  WorkloadCheckRequest,
  PodRuntime,
  ProviderError,
  ReadinessCheck,
  SimulatorEndpoint,
  WorkloadRequest,
} from '../ports';

/** The provider calls a fault can be attached to. */
export type FaultStep =
  | 'launchNode'
  | 'checkNodes'
  | 'terminateInstances'
  | 'terminateDeployment'
  | 'checkNodesJoined'
  | 'createWorkload'
  | 'checkWorkload'
  | 'deleteWorkload'
  | 'deleteNodes';

export interface FaultRule {
  step: FaultStep;
  /** fail: throw a ProviderError; hang: never answer (until aborted); slow: answer after delayMs. */
  mode: 'fail' | 'hang' | 'slow';
  error?: FailureDetail;
  delayMs?: number;
  /** Only the N-th call of this step (1-based), counted per deployment. */
  nth?: number;
  /** The first N calls of this step, per deployment. */
  times?: number;
  /** Only this deployment. */
  deploymentId?: string;
}

const DEFAULT_ERROR: FailureDetail = { code: 'InjectedFault', message: 'fault injected for a test', transient: false };

/**
 * Decorates real providers with faults at named steps: fail, hang or be slow, the N-th
 * time or always. A double at the port boundary for failure tests and game days; the
 * wrapped provider still does the real work whenever no fault applies.
 */
export class FaultInjector {
  private readonly calls = new Map<string, number>();
  private rules: FaultRule[];

  constructor(rules: FaultRule[] = []) {
    this.rules = [...rules];
  }

  set(rules: FaultRule[]): void {
    this.rules = [...rules];
    this.calls.clear();
  }

  add(rule: FaultRule): void {
    this.rules.push(rule);
  }

  clear(): void {
    this.rules = [];
    this.calls.clear();
  }

  /** How many times a step was called for a deployment. */
  count(step: FaultStep, deploymentId: string): number {
    return this.calls.get(`${step}:${deploymentId}`) ?? 0;
  }

  async around<T>(step: FaultStep, deploymentId: string, signal: AbortSignal | undefined, call: () => Promise<T>): Promise<T> {
    const key = `${step}:${deploymentId}`;
    const n = (this.calls.get(key) ?? 0) + 1;
    this.calls.set(key, n);
    const rule = this.rules.find(
      (r) =>
        r.step === step &&
        (r.deploymentId === undefined || r.deploymentId === deploymentId) &&
        (r.nth === undefined || r.nth === n) &&
        (r.times === undefined || n <= r.times),
    );
    if (!rule) return call();
    if (rule.mode === 'fail') {
      const e = rule.error ?? DEFAULT_ERROR;
      throw new ProviderError(e.code, e.message, e.transient);
    }
    await pause(rule.mode === 'hang' ? undefined : (rule.delayMs ?? 0), signal);
    return call();
  }
}

function pause(ms: number | undefined, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const aborted = () => {
      if (timer) clearTimeout(timer);
      reject(new ProviderError('Aborted', 'the call was aborted', true));
    };
    if (signal?.aborted) return aborted();
    const timer = ms === undefined ? undefined : setTimeout(resolve, ms);
    signal?.addEventListener('abort', aborted, { once: true });
  });
}

export class FaultInjectingNodeProvider extends NodeProvider {
  constructor(
    private readonly inner: NodeProvider,
    readonly faults: FaultInjector,
  ) {
    super();
  }

  launchNode(request: NodeRequest, signal?: AbortSignal): Promise<LaunchedNode> {
    return this.faults.around('launchNode', request.deploymentId, signal, () => this.inner.launchNode(request, signal));
  }

  checkNodes(deploymentId: string, nodes: readonly LaunchedNode[], signal?: AbortSignal): Promise<ReadinessCheck> {
    return this.faults.around('checkNodes', deploymentId, signal, () => this.inner.checkNodes(deploymentId, nodes, signal));
  }

  /** The wrapped provider's own batch: faults apply to the single checks the lifecycle makes. */
  override checkNodesBatch(requests: readonly NodeCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    return this.inner.checkNodesBatch(requests, signal);
  }

  terminateInstances(deploymentId: string, instanceIds: readonly string[], signal?: AbortSignal): Promise<void> {
    return this.faults.around('terminateInstances', deploymentId, signal, () =>
      this.inner.terminateInstances(deploymentId, instanceIds, signal),
    );
  }

  terminateDeployment(deploymentId: string, signal?: AbortSignal): Promise<string[]> {
    return this.faults.around('terminateDeployment', deploymentId, signal, () => this.inner.terminateDeployment(deploymentId, signal));
  }

  listManagedInstances(signal?: AbortSignal): Promise<ManagedInstance[]> {
    return this.inner.listManagedInstances(signal);
  }
}

export class FaultInjectingPodRuntime extends PodRuntime {
  constructor(
    private readonly inner: PodRuntime,
    readonly faults: FaultInjector,
  ) {
    super();
  }

  checkNodesJoined(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<ReadinessCheck> {
    return this.faults.around('checkNodesJoined', deploymentId, signal, () =>
      this.inner.checkNodesJoined(deploymentId, nodeNames, signal),
    );
  }

  override checkNodesJoinedBatch(requests: readonly NodesJoinedCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    return this.inner.checkNodesJoinedBatch(requests, signal);
  }

  override checkWorkloadBatch(requests: readonly WorkloadCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    return this.inner.checkWorkloadBatch(requests, signal);
  }

  createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void> {
    return this.faults.around('createWorkload', request.deploymentId, signal, () => this.inner.createWorkload(request, signal));
  }

  checkWorkload(deploymentId: string, pods: WorkloadRequest['plan']['pods'], signal?: AbortSignal): Promise<ReadinessCheck> {
    return this.faults.around('checkWorkload', deploymentId, signal, () => this.inner.checkWorkload(deploymentId, pods, signal));
  }

  deleteWorkload(deploymentId: string, signal?: AbortSignal): Promise<DeletionResult> {
    return this.faults.around('deleteWorkload', deploymentId, signal, () => this.inner.deleteWorkload(deploymentId, signal));
  }

  deleteNodes(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<DeletionResult> {
    return this.faults.around('deleteNodes', deploymentId, signal, () => this.inner.deleteNodes(deploymentId, nodeNames, signal));
  }

  listManagedWorkloads(signal?: AbortSignal): Promise<ManagedWorkload[]> {
    return this.inner.listManagedWorkloads(signal);
  }

  simulatorEndpoint(deploymentId: string, signal?: AbortSignal): Promise<SimulatorEndpoint | null> {
    return this.inner.simulatorEndpoint(deploymentId, signal);
  }

  readLogs(deploymentId: string, podName: string, tail: number, signal?: AbortSignal): Promise<string[]> {
    return this.inner.readLogs(deploymentId, podName, tail, signal);
  }
}
