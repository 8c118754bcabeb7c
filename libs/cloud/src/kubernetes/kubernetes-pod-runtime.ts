import {
  CoreV1Api,
  KubeConfig,
  NetworkingV1Api,
  Observable,
  PatchStrategy,
  setHeaderOptions,
} from '@kubernetes/client-node';
import type { ConfigurationOptions, V1Node, V1Pod } from '@kubernetes/client-node';
import type { FailureDetail, PodPlan } from '@simdeploy/domain';
import { DEPLOYMENT_TAG, PodRuntime, ProviderError } from '../ports';
import type { DeletionResult, ManagedWorkload, ReadinessCheck, SimulatorEndpoint, WorkloadRequest } from '../ports';
import { apiStatusCode, classifyKubernetesError } from './errors';
import {
  buildNetworkPolicies,
  buildPod,
  buildService,
  deploymentSelector,
  indexPods,
  managedSelector,
} from './manifests';
import type { ManifestSettings } from './manifests';

export interface KubernetesPodRuntimeConfig {
  /** Injected so tests and tools choose the cluster; production uses `loadDefaultKubeConfig()`. */
  kubeConfig: KubeConfig;
  /** Where the control plane talks to simulators from, e.g. '10.0.0.0/24'. */
  controlPlaneCidr: string;
  namespace?: string;
  simulatorPort?: number;
  deleteGracePeriodSeconds?: number;
  /** How many log lines a failed pod's check carries. */
  podReadyLogLines?: number;
}

/** The kubeconfig from KUBECONFIG, ~/.kube/config or the in-cluster service account. */
export function loadDefaultKubeConfig(): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

/** Waiting reasons after which a container will not start without someone changing something. */
const FATAL_WAITING_REASONS = new Set([
  'ErrImagePull',
  'ImagePullBackOff',
  'CrashLoopBackOff',
  'CreateContainerConfigError',
  'InvalidImageName',
]);

const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

type PodFault = Omit<FailureDetail, 'transient'>;

/** Why a pod will never become ready, or undefined while it still may. */
function podFault(pod: V1Pod): PodFault | undefined {
  const name = pod.metadata?.name ?? 'pod';
  const phase = pod.status?.phase;
  for (const container of pod.status?.containerStatuses ?? []) {
    const { terminated, waiting } = container.state ?? {};
    if (terminated) {
      return {
        code: terminated.reason ?? 'ContainerTerminated',
        message: `${name}: container ${container.name} exited with code ${terminated.exitCode}${terminated.message ? `: ${terminated.message}` : ''}`,
      };
    }
    if (waiting?.reason && FATAL_WAITING_REASONS.has(waiting.reason)) {
      return {
        code: waiting.reason,
        message: `${name}: container ${container.name} ${waiting.reason}${waiting.message ? `: ${waiting.message}` : ''}`,
      };
    }
  }
  if (phase === 'Failed' || phase === 'Succeeded') {
    return {
      code: pod.status?.reason ?? `Pod${phase}`,
      message: `${name}: pod ${phase}${pod.status?.message ? `: ${pod.status.message}` : ''}`,
    };
  }
  return undefined;
}

const isPodReady = (pod: V1Pod): boolean =>
  pod.status?.phase === 'Running' &&
  (pod.status.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

const isNodeReady = (node: V1Node): boolean =>
  !node.spec?.unschedulable && (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');

const isDaemonSetPod = (pod: V1Pod): boolean =>
  (pod.metadata?.ownerReferences ?? []).some((owner) => owner.kind === 'DaemonSet');

const isMirrorPod = (pod: V1Pod): boolean => pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined;

const namesOf = (items: readonly { metadata?: { name?: string } }[]): string[] =>
  items.flatMap((item) => (item.metadata?.name ? [item.metadata.name] : []));

/**
 * The PodRuntime on a Kubernetes cluster. Every object is named from the plan and labelled
 * with the deployment id, so creates that meet an existing object (409) and deletes that meet
 * a missing one (404) are both success, and a retry after any crash converges.
 */
export class KubernetesPodRuntime extends PodRuntime {
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly settings: ManifestSettings;
  private readonly deleteGracePeriodSeconds: number;
  private readonly podReadyLogLines: number;

  constructor(config: KubernetesPodRuntimeConfig) {
    super();
    this.core = config.kubeConfig.makeApiClient(CoreV1Api);
    this.networking = config.kubeConfig.makeApiClient(NetworkingV1Api);
    this.settings = {
      namespace: config.namespace ?? 'simdeploy',
      controlPlaneCidr: config.controlPlaneCidr,
      simulatorPort: config.simulatorPort ?? 11345,
    };
    this.deleteGracePeriodSeconds = config.deleteGracePeriodSeconds ?? 30;
    this.podReadyLogLines = config.podReadyLogLines ?? 20;
  }

  private get namespace(): string {
    return this.settings.namespace;
  }

  async checkNodesJoined(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<ReadinessCheck> {
    const nodes = await this.call('list nodes', signal, (options) =>
      this.core.listNode({ labelSelector: deploymentSelector(deploymentId) }, options),
    );
    const expected = nodeNames.filter((name) => name !== '');
    const byName = new Map(nodes.items.map((node) => [node.metadata?.name ?? '', node]));
    // Without recorded names, every node that carries the deployment's label must be ready.
    const relevant = expected.length > 0 ? expected.map((name) => byName.get(name)) : nodes.items;
    const missing = expected.filter((name) => !byName.has(name));
    if (relevant.length === 0 || missing.length > 0) {
      return { state: 'pending', detail: `waiting for nodes to join: ${missing.join(', ') || 'none yet'}` };
    }
    const notReady = relevant.filter((node): node is V1Node => node !== undefined && !isNodeReady(node));
    if (notReady.length > 0) {
      return { state: 'pending', detail: `nodes not ready or not schedulable: ${namesOf(notReady).join(', ')}` };
    }
    return { state: 'ready' };
  }

  async createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void> {
    const { namespace, settings } = this;
    const missingRoles = [...new Set(request.plan.pods.map((pod) => pod.nodeRole))].filter(
      (role) => !request.nodes.some((node) => node.role === role),
    );
    if (missingRoles.length > 0) {
      throw new ProviderError('NoNodeForPods', `no node planned for the pod roles: ${missingRoles.join(', ')}`, false);
    }
    // Policies first: a pod must never run, even briefly, without its network fence.
    await Promise.all(
      buildNetworkPolicies(request, settings).map((body) =>
        this.ensureCreated(`create network policy ${body.metadata?.name}`, signal, (options) =>
          this.networking.createNamespacedNetworkPolicy({ namespace, body }, options),
        ),
      ),
    );
    await Promise.all(
      indexPods(request.plan.pods).map((pod) =>
        this.ensureCreated(`create pod ${pod.name}`, signal, (options) =>
          this.core.createNamespacedPod({ namespace, body: buildPod(request, pod, settings) }, options),
        ),
      ),
    );
    await Promise.all(
      request.plan.services.map((name) =>
        this.ensureCreated(`create service ${name}`, signal, (options) =>
          this.core.createNamespacedService({ namespace, body: buildService(request, name, settings) }, options),
        ),
      ),
    );
  }

  async checkWorkload(deploymentId: string, pods: readonly PodPlan[], signal?: AbortSignal): Promise<ReadinessCheck> {
    const listed = await this.call('list pods', signal, (options) =>
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: deploymentSelector(deploymentId) }, options),
    );
    const byName = new Map(listed.items.map((pod) => [pod.metadata?.name ?? '', pod]));
    for (const plan of pods) {
      const pod = byName.get(plan.name);
      const fault = pod && podFault(pod);
      if (fault) {
        return { state: 'failed', error: { ...fault, transient: false }, logs: await this.tailLogs(plan.name, signal) };
      }
    }
    const waiting = pods.filter((plan) => {
      const pod = byName.get(plan.name);
      return !pod || !isPodReady(pod);
    });
    if (waiting.length === 0) return { state: 'ready' };
    const describe = (plan: PodPlan) => {
      const pod = byName.get(plan.name);
      return `${plan.name} (${pod ? (pod.status?.phase ?? 'Unknown') : 'missing'})`;
    };
    return { state: 'pending', detail: `waiting for pods: ${waiting.map(describe).join(', ')}` };
  }

  async deleteWorkload(deploymentId: string, signal?: AbortSignal): Promise<DeletionResult> {
    const { namespace } = this;
    const labelSelector = deploymentSelector(deploymentId);
    await this.ensureDeleted('delete pods', signal, (options) =>
      this.core.deleteCollectionNamespacedPod(
        { namespace, labelSelector, gracePeriodSeconds: this.deleteGracePeriodSeconds },
        options,
      ),
    );
    // Older API servers have no deleteCollection for services.
    const services = await this.call('list services', signal, (options) =>
      this.core.listNamespacedService({ namespace, labelSelector }, options),
    );
    await Promise.all(
      namesOf(services.items).map((name) =>
        this.ensureDeleted(`delete service ${name}`, signal, (options) =>
          this.core.deleteNamespacedService({ name, namespace }, options),
        ),
      ),
    );
    // The fences stay up until every pod has finished terminating.
    const pods = await this.call('list pods', signal, (options) =>
      this.core.listNamespacedPod({ namespace, labelSelector }, options),
    );
    if (pods.items.length > 0) return { gone: false };
    await this.ensureDeleted('delete network policies', signal, (options) =>
      this.networking.deleteCollectionNamespacedNetworkPolicy({ namespace, labelSelector }, options),
    );
    const [servicesLeft, policiesLeft] = await Promise.all([
      this.call('list services', signal, (options) => this.core.listNamespacedService({ namespace, labelSelector }, options)),
      this.call('list network policies', signal, (options) =>
        this.networking.listNamespacedNetworkPolicy({ namespace, labelSelector }, options),
      ),
    ]);
    return { gone: servicesLeft.items.length === 0 && policiesLeft.items.length === 0 };
  }

  async deleteNodes(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<DeletionResult> {
    const labelSelector = deploymentSelector(deploymentId);
    const labelled = await this.call('list nodes', signal, (options) => this.core.listNode({ labelSelector }, options));
    // A labelled node whose name was never recorded belongs to the deployment too.
    const targets = [...new Set([...nodeNames.filter((name) => name !== ''), ...namesOf(labelled.items)])];
    for (const name of targets) await this.drainAndDelete(name, signal);
    const left = await this.call('list nodes', signal, (options) => this.core.listNode({ labelSelector }, options));
    return { gone: left.items.length === 0 };
  }

  /** Not yet: the Service's in-cluster address once the access proxy lands. */
  async simulatorEndpoint(_deploymentId: string): Promise<SimulatorEndpoint | null> {
    return null;
  }

  async readLogs(_deploymentId: string, podName: string, tail: number, signal?: AbortSignal): Promise<string[]> {
    return (await this.tailLogs(podName, signal)).slice(-tail);
  }

  async listManagedWorkloads(signal?: AbortSignal): Promise<ManagedWorkload[]> {
    const { namespace } = this;
    const labelSelector = managedSelector;
    const [pods, services, policies] = await Promise.all([
      this.listAll('list managed pods', signal, (_continue, options) =>
        this.core.listNamespacedPod({ namespace, labelSelector, _continue, limit: 500 }, options),
      ),
      this.listAll('list managed services', signal, (_continue, options) =>
        this.core.listNamespacedService({ namespace, labelSelector, _continue, limit: 500 }, options),
      ),
      this.listAll('list managed network policies', signal, (_continue, options) =>
        this.networking.listNamespacedNetworkPolicy({ namespace, labelSelector, _continue, limit: 500 }, options),
      ),
    ]);
    // A deployment with only services or policies left is an orphan too, with no pods.
    const workloads = new Map<string, string[]>();
    const deploymentOf = (item: { metadata?: { labels?: Record<string, string> } }) =>
      item.metadata?.labels?.[DEPLOYMENT_TAG];
    for (const item of [...services, ...policies]) {
      const deploymentId = deploymentOf(item);
      if (deploymentId && !workloads.has(deploymentId)) workloads.set(deploymentId, []);
    }
    for (const pod of pods) {
      const deploymentId = deploymentOf(pod);
      if (deploymentId) workloads.set(deploymentId, [...(workloads.get(deploymentId) ?? []), ...namesOf([pod])]);
    }
    return [...workloads].map(([deploymentId, podNames]) => ({ deploymentId, pods: podNames.sort() }));
  }

  /** Cordon, evict what may be evicted, delete the Node: `kubectl drain` then `kubectl delete node`. */
  private async drainAndDelete(nodeName: string, signal?: AbortSignal): Promise<void> {
    try {
      await this.call(`cordon node ${nodeName}`, signal, (options) =>
        this.core.patchNode(
          { name: nodeName, body: { spec: { unschedulable: true } } },
          setHeaderOptions('Content-Type', PatchStrategy.MergePatch, options),
        ),
      );
    } catch (error) {
      if (apiStatusCode(error) === 404) return;
      throw error;
    }
    // Every namespace, as `kubectl drain` does: a foreign pod on the node keeps its disruption budget.
    const onNode = await this.call(`list pods on node ${nodeName}`, signal, (options) =>
      this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}` }, options),
    );
    // DaemonSet pods would be recreated at once and mirror pods cannot be evicted; both die with the node.
    const evictable = onNode.items.filter((pod) => !isDaemonSetPod(pod) && !isMirrorPod(pod));
    await Promise.all(
      evictable.map((pod) => {
        const name = pod.metadata?.name ?? '';
        const namespace = pod.metadata?.namespace ?? this.namespace;
        return this.ensureDeleted(`evict pod ${namespace}/${name} from ${nodeName}`, signal, (options) =>
          this.core.createNamespacedPodEviction(
            { name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } },
            options,
          ),
        );
      }),
    );
    await this.ensureDeleted(`delete node ${nodeName}`, signal, (options) =>
      this.core.deleteNode({ name: nodeName }, options),
    );
  }

  private async tailLogs(podName: string, signal?: AbortSignal): Promise<string[]> {
    try {
      const text = await this.call(`read logs of ${podName}`, signal, (options) =>
        this.core.readNamespacedPodLog({ name: podName, namespace: this.namespace, tailLines: this.podReadyLogLines }, options),
      );
      return text.split('\n').filter((line) => line !== '').slice(-this.podReadyLogLines);
    } catch {
      // A container that never started has no logs; the failure itself is what matters.
      return [];
    }
  }

  /** Runs one API call with the caller's abort signal, turning its failure into a ProviderError. */
  private async call<T>(doing: string, signal: AbortSignal | undefined, run: (options?: ConfigurationOptions) => Promise<T>): Promise<T> {
    try {
      signal?.throwIfAborted();
      return await run(signal ? withSignal(signal) : undefined);
    } catch (error) {
      throw classifyKubernetesError(error, doing);
    }
  }

  /** Creates that meet an existing object succeed: names come from the plan, so it is ours. */
  private ensureCreated(doing: string, signal: AbortSignal | undefined, run: (options?: ConfigurationOptions) => Promise<unknown>) {
    return this.tolerating(409, doing, signal, run);
  }

  private ensureDeleted(doing: string, signal: AbortSignal | undefined, run: (options?: ConfigurationOptions) => Promise<unknown>) {
    return this.tolerating(404, doing, signal, run);
  }

  private async tolerating(
    status: number,
    doing: string,
    signal: AbortSignal | undefined,
    run: (options?: ConfigurationOptions) => Promise<unknown>,
  ): Promise<void> {
    try {
      await this.call(doing, signal, run);
    } catch (error) {
      if (apiStatusCode(error) !== status) throw error;
    }
  }

  private async listAll<T>(
    doing: string,
    signal: AbortSignal | undefined,
    page: (
      _continue: string | undefined,
      options?: ConfigurationOptions,
    ) => Promise<{ items: T[]; metadata?: { _continue?: string } }>,
  ): Promise<T[]> {
    const items: T[] = [];
    let next: string | undefined;
    do {
      const result = await this.call(doing, signal, (options) => page(next, options));
      items.push(...result.items);
      next = result.metadata?._continue || undefined;
    } while (next);
    return items;
  }
}

/** Hands the caller's AbortSignal to node-fetch through a request middleware. */
function withSignal(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new Observable(Promise.resolve(context));
        },
        post: (context) => new Observable(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
