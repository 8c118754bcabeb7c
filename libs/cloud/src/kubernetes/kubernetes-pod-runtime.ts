import type { CoreV1Api, KubeConfig, NetworkingV1Api, PolicyV1Api } from '@kubernetes/client-node';
import type { ConfigurationOptions, V1LabelSelector, V1Node, V1Pod, V1PodDisruptionBudget } from '@kubernetes/client-node';
import type { PodPlan } from '@simdeploy/domain';
import { kubernetesClient } from '../client-libraries';
import {
  CONTROL_PLANE_TAG,
  CONTROL_PLANE_TAG_VALUE,
  DEPLOYMENT_TAG,
  NODE_RESTRICTED_DEPLOYMENT_LABEL,
  NODE_RESTRICTED_ROLE_LABEL,
  NODE_ROLE_TAG,
  PodRuntime,
  ProviderError,
} from '../ports';
import type {
  DeletionResult,
  ManagedWorkload,
  NodesJoinedCheckRequest,
  ReadinessByDeployment,
  ReadinessCheck,
  SimulatorEndpoint,
  WorkloadCheckRequest,
  WorkloadRequest,
} from '../ports';
import { isCidr } from './cidr';
import { apiStatusCode, classifyKubernetesError, retryAfterOf, statusCausesOf } from './errors';
import {
  INSTANCE_METADATA_CIDRS,
  POD_ROLE_LABEL,
  buildNetworkPolicies,
  buildPod,
  buildService,
  deploymentSelector,
  indexPods,
  managedSelector,
} from './manifests';
import type { EgressDestination, ManifestSettings, PeerSelector } from './manifests';
import { ROUTINE_WAITING, podVerdict } from './pod-status';
import type { ReadinessPolicy } from './pod-status';
import { DEFAULT_ALLOCATABLE_FRACTION, DEFAULT_INSTANCE_SIZES, FALLBACK_INSTANCE_SIZE } from './resources';
import type { InstanceSize } from './resources';

export interface KubernetesPodRuntimeConfig {
  /** Injected so tests and tools choose the cluster; production uses `loadDefaultKubeConfig()`. */
  kubeConfig: KubeConfig;
  /**
   * @deprecated A CIDR let in to the simulator's port. On EKS a VPC range covers every pod,
   * so prefer `simulatorClients`; when set, it is allowed in addition to them.
   */
  controlPlaneCidr?: string;
  namespace?: string;
  simulatorPort?: number;
  deleteGracePeriodSeconds?: number;
  /** How many log lines a failed pod's check carries. */
  podReadyLogLines?: number;
  /** The clock deletion, drain and pull deadlines are measured with. */
  now?: () => number;

  /** Pods still Terminating this long after their grace period, on a NotReady or vanished node, are force-deleted. */
  forceDeleteAfterSeconds?: number;
  /** How long a drain waits for evicted pods (and retries refused evictions) after the cordon; keep it below the cleanup's deletion timeout. */
  drainTimeoutSeconds?: number;
  /** ImagePullBackOff for a cause that may pass fails after this many of the kubelet's back-offs (10 s, doubling). */
  imagePullBackOffLimit?: number;
  /** A container waiting on CreateContainerConfigError (missing secret or config map) fails after this long. */
  createContainerConfigGraceSeconds?: number;
  /** How many deployments one batched list call asks about (`deployment-id in (...)`). */
  batchSize?: number;
  /** Items per page of a list call. */
  listPageSize?: number;

  /** Pods that may open the simulator's port: the gateway's (or an ingress controller's), by namespace and labels. */
  simulatorClients?: readonly PeerSelector[];
  /** Where cluster DNS runs (default: pods `k8s-app=kube-dns` in kube-system). */
  clusterDns?: PeerSelector;
  /** Destinations every simulation pod may reach besides DNS and its own deployment's pods (default: none). */
  allowedEgress?: readonly EgressDestination[];
  /** The API server's addresses (the `kubernetes` Service IP and its endpoints), cut out of every allowed destination. */
  apiServerCidrs?: readonly string[];
  /** More ranges cut out of every allowed destination, e.g. the VPC's, so 0.0.0.0/0 does not open other pods. */
  deniedEgressCidrs?: readonly string[];
  /** Secrets in the namespace the kubelet pulls simulation images with. */
  imagePullSecrets?: readonly string[];
  /** Refuse images that run as root; off by default, because common ROS and Gazebo images do. */
  runAsNonRoot?: boolean;
  /** Capacity per instance type for default requests, merged over the built-in table. */
  instanceSizes?: Readonly<Record<string, InstanceSize>>;
  fallbackInstanceSize?: InstanceSize;
  /** The share of a node's capacity its pods may ask for. */
  allocatableFraction?: number;
}

/** The kubeconfig from KUBECONFIG, ~/.kube/config or the in-cluster service account. */
export function loadDefaultKubeConfig(): KubeConfig {
  const kubeConfig = new (kubernetesClient().KubeConfig)();
  kubeConfig.loadFromDefault();
  return kubeConfig;
}

/** The kubeconfig in one file (KUBECONFIG naming a single path). */
export function loadKubeConfigFile(path: string): KubeConfig {
  const kubeConfig = new (kubernetesClient().KubeConfig)();
  kubeConfig.loadFromFile(path);
  return kubeConfig;
}

/** The gateway as k8s/ deploys it, in the control plane's namespace. */
export const DEFAULT_SIMULATOR_CLIENTS: readonly PeerSelector[] = [
  {
    namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'simdeploy' } },
    podSelector: { matchLabels: { 'app.kubernetes.io/name': 'gateway', 'app.kubernetes.io/part-of': 'simdeploy' } },
  },
];

export const DEFAULT_CLUSTER_DNS: PeerSelector = {
  namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } },
  podSelector: { matchLabels: { 'k8s-app': 'kube-dns' } },
};

/** When the drain began, on the node itself, so the deadline survives a restart of the worker. */
export const DRAIN_STARTED_ANNOTATION = 'simdeploy.io/drain-started-at';
/** Refused evictions so far, and when to ask again: the drain's back-off, on the node too. */
export const DRAIN_REFUSALS_ANNOTATION = 'simdeploy.io/drain-eviction-refusals';
export const DRAIN_RETRY_AT_ANNOTATION = 'simdeploy.io/drain-eviction-retry-at';

/** 5 s after the first refusal, doubling, at most a minute; never sooner than the server's Retry-After. */
const evictionBackOffMs = (refusals: number, retryAfterSeconds = 0): number =>
  Math.max(retryAfterSeconds * 1000, Math.min(5_000 * 2 ** Math.max(0, refusals - 1), 60_000));

const MIRROR_POD_ANNOTATION = 'kubernetes.io/config.mirror';

const isNodeReady = (node: V1Node): boolean => (node.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
const isNodeSchedulable = (node: V1Node): boolean => isNodeReady(node) && !node.spec?.unschedulable;

const isDaemonSetPod = (pod: V1Pod): boolean => (pod.metadata?.ownerReferences ?? []).some((owner) => owner.kind === 'DaemonSet');

const isMirrorPod = (pod: V1Pod): boolean => pod.metadata?.annotations?.[MIRROR_POD_ANNOTATION] !== undefined;

const namesOf = (items: readonly { metadata?: { name?: string } }[]): string[] =>
  items.flatMap((item) => (item.metadata?.name ? [item.metadata.name] : []));

const qualified = (pod: V1Pod): string => `${pod.metadata?.namespace ?? ''}/${pod.metadata?.name ?? ''}`;

const timeOf = (value: Date | string | undefined): number | undefined => {
  if (value === undefined) return undefined;
  const ms = value instanceof Date ? value.getTime() : Date.parse(value);
  return Number.isNaN(ms) ? undefined : ms;
};

const chunk = <T>(items: readonly T[], size: number): T[][] => {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
};

const matchesSelector = (selector: V1LabelSelector | undefined, labels: Record<string, string> = {}): boolean => {
  if (!selector) return false;
  const byLabels = Object.entries(selector.matchLabels ?? {}).every(([key, value]) => labels[key] === value);
  const byExpressions = (selector.matchExpressions ?? []).every((e) => {
    const has = Object.prototype.hasOwnProperty.call(labels, e.key);
    switch (e.operator) {
      case 'In':
        return has && (e.values ?? []).includes(labels[e.key]);
      case 'NotIn':
        return !has || !(e.values ?? []).includes(labels[e.key]);
      case 'Exists':
        return has;
      case 'DoesNotExist':
        return !has;
      default:
        return false;
    }
  });
  return byLabels && byExpressions;
};

/** A budget that refuses every voluntary disruption while its pods are healthy: waiting will not help. */
function neverAllowsDisruption(budget: V1PodDisruptionBudget): string | undefined {
  const { maxUnavailable, minAvailable } = budget.spec ?? {};
  if (maxUnavailable === 0 || maxUnavailable === '0%') return `maxUnavailable: ${maxUnavailable}`;
  if (minAvailable === '100%') return 'minAvailable: 100%';
  const expected = budget.status?.expectedPods;
  if (typeof minAvailable === 'number' && expected !== undefined && minAvailable >= expected) {
    return `minAvailable: ${minAvailable} of ${expected} pods`;
  }
  return undefined;
}

/** The budget named in a 429 refusal's cause ("The disruption budget X needs ..."). */
const budgetNameOf = (error: unknown): string | undefined => {
  for (const cause of statusCausesOf(error)) {
    const match = /^The disruption budget (\S+) /.exec(cause.message ?? '');
    if (cause.reason === 'DisruptionBudget' && match) return match[1];
  }
  return undefined;
};

interface Drained {
  deleted: boolean;
  detail?: string;
}

/**
 * The PodRuntime on a Kubernetes cluster. Every object is named from the plan and labelled
 * with the deployment id, so a create that meets its own object and a delete that meets a
 * missing one are both success, and a retry after any crash converges.
 */
export class KubernetesPodRuntime extends PodRuntime {
  private readonly core: CoreV1Api;
  private readonly networking: NetworkingV1Api;
  private readonly policy: PolicyV1Api;
  private readonly settings: ManifestSettings;
  private readonly readiness: ReadinessPolicy;
  private readonly now: () => number;
  private readonly deleteGracePeriodSeconds: number;
  private readonly podReadyLogLines: number;
  private readonly forceDeleteAfterMs: number;
  private readonly drainTimeoutMs: number;
  private readonly batchSize: number;
  private readonly listPageSize: number;

  constructor(config: KubernetesPodRuntimeConfig) {
    super();
    this.core = config.kubeConfig.makeApiClient(kubernetesClient().CoreV1Api);
    this.networking = config.kubeConfig.makeApiClient(kubernetesClient().NetworkingV1Api);
    this.policy = config.kubeConfig.makeApiClient(kubernetesClient().PolicyV1Api);
    this.now = config.now ?? Date.now;
    const cidrs = (name: string, values: readonly string[]) => {
      const bad = values.find((value) => !isCidr(value));
      if (bad !== undefined) throw new Error(`${name}: "${bad}" is not an IPv4 or IPv6 CIDR`);
      return values;
    };
    const allowedEgress = config.allowedEgress ?? [];
    cidrs('allowedEgress', allowedEgress.map((d) => d.cidr));
    const deniedEgressCidrs = [
      ...INSTANCE_METADATA_CIDRS,
      ...cidrs('apiServerCidrs', config.apiServerCidrs ?? []),
      ...cidrs('deniedEgressCidrs', config.deniedEgressCidrs ?? []),
    ];
    if (config.controlPlaneCidr !== undefined) cidrs('controlPlaneCidr', [config.controlPlaneCidr]);
    this.settings = {
      namespace: config.namespace ?? 'simdeploy',
      simulatorPort: config.simulatorPort ?? 11345,
      simulatorClients: config.simulatorClients ?? DEFAULT_SIMULATOR_CLIENTS,
      controlPlaneCidr: config.controlPlaneCidr,
      clusterDns: config.clusterDns ?? DEFAULT_CLUSTER_DNS,
      allowedEgress,
      deniedEgressCidrs,
      imagePullSecrets: config.imagePullSecrets ?? [],
      runAsNonRoot: config.runAsNonRoot ?? false,
      resources: {
        instanceSizes: { ...DEFAULT_INSTANCE_SIZES, ...config.instanceSizes },
        fallbackInstanceSize: config.fallbackInstanceSize ?? FALLBACK_INSTANCE_SIZE,
        allocatableFraction: config.allocatableFraction ?? DEFAULT_ALLOCATABLE_FRACTION,
      },
    };
    this.readiness = {
      imagePullBackOffLimit: config.imagePullBackOffLimit ?? 4,
      createContainerConfigGraceSeconds: config.createContainerConfigGraceSeconds ?? 30,
      now: this.now,
    };
    this.deleteGracePeriodSeconds = config.deleteGracePeriodSeconds ?? 30;
    this.podReadyLogLines = config.podReadyLogLines ?? 20;
    this.forceDeleteAfterMs = (config.forceDeleteAfterSeconds ?? 60) * 1000;
    this.drainTimeoutMs = (config.drainTimeoutSeconds ?? 180) * 1000;
    this.batchSize = config.batchSize ?? 50;
    this.listPageSize = config.listPageSize ?? 500;
  }

  private get namespace(): string {
    return this.settings.namespace;
  }

  // ---- nodes joining ------------------------------------------------------------------

  async checkNodesJoined(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<ReadinessCheck> {
    const answers = await this.joinedBatch([{ deploymentId, nodeNames }], signal, true);
    return answers.get(deploymentId) ?? { state: 'pending', detail: 'not checked' };
  }

  /** One node list for many deployments; a chunk whose list fails leaves its deployments out. */
  override checkNodesJoinedBatch(requests: readonly NodesJoinedCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    return this.joinedBatch(requests, signal, false);
  }

  private async joinedBatch(requests: readonly NodesJoinedCheckRequest[], signal: AbortSignal | undefined, rethrow: boolean): Promise<ReadinessByDeployment> {
    const answers: ReadinessByDeployment = new Map();
    for (const part of chunk(requests, this.batchSize)) {
      try {
        const nodes = await this.listAll('list nodes', signal, (_continue, options) =>
          this.core.listNode({ labelSelector: this.deploymentsSelector(part), limit: this.listPageSize, _continue }, options),
        );
        for (const request of part) {
          const own = nodes.filter((node) => node.metadata?.labels?.[DEPLOYMENT_TAG] === request.deploymentId);
          try {
            answers.set(request.deploymentId, await this.nodesJoined(request, own, signal));
          } catch (error) {
            if (rethrow) throw error;
          }
        }
      } catch (error) {
        if (rethrow) throw error;
      }
    }
    return answers;
  }

  /**
   * Every planned node must have joined, Ready and schedulable. A plan entry without a node
   * name (the machine's name was never recorded) is matched by a labelled node that no named
   * entry claims, so the count must match the plan too. Before answering ready, the runtime
   * puts the node-restriction labels the pods are pinned on onto each node: a kubelet cannot
   * set them itself, so no other machine can draw the deployment's pods.
   */
  private async nodesJoined(request: NodesJoinedCheckRequest, labelled: V1Node[], signal?: AbortSignal): Promise<ReadinessCheck> {
    const named = request.nodeNames.filter((name) => name !== '');
    const unnamed = request.nodeNames.length - named.length;
    const byName = new Map(labelled.map((node) => [node.metadata?.name ?? '', node]));
    const missing = named.filter((name) => !byName.has(name));
    const others = labelled.filter((node) => !named.includes(node.metadata?.name ?? '')).sort((a, b) => Number(isNodeSchedulable(b)) - Number(isNodeSchedulable(a)));
    const wanted = request.nodeNames.length === 0 ? Math.max(1, labelled.length) : unnamed;
    if (missing.length > 0 || others.length < wanted) {
      const waiting = [...missing, ...(others.length < wanted ? [`${wanted - others.length} unnamed`] : [])];
      return { state: 'pending', detail: `waiting for nodes to join: ${waiting.join(', ')}` };
    }
    const relevant = [...named.map((name) => byName.get(name) as V1Node), ...others.slice(0, wanted)];
    const notReady = relevant.filter((node) => !isNodeSchedulable(node));
    if (notReady.length > 0) return { state: 'pending', detail: `nodes not ready or not schedulable: ${namesOf(notReady).join(', ')}` };
    const roleless = relevant.filter((node) => !node.metadata?.labels?.[NODE_ROLE_TAG]);
    if (roleless.length > 0) return { state: 'pending', detail: `nodes without a ${NODE_ROLE_TAG} label: ${namesOf(roleless).join(', ')}` };
    for (const node of relevant) await this.restrictNode(node, request.deploymentId, signal);
    return { state: 'ready' };
  }

  private async restrictNode(node: V1Node, deploymentId: string, signal?: AbortSignal): Promise<void> {
    const labels = node.metadata?.labels ?? {};
    const role = labels[NODE_ROLE_TAG];
    if (labels[NODE_RESTRICTED_DEPLOYMENT_LABEL] === deploymentId && labels[NODE_RESTRICTED_ROLE_LABEL] === role) return;
    const name = node.metadata?.name ?? '';
    await this.call(`label node ${name}`, signal, (options) =>
      this.core.patchNode(
        { name, body: { metadata: { labels: { [NODE_RESTRICTED_DEPLOYMENT_LABEL]: deploymentId, [NODE_RESTRICTED_ROLE_LABEL]: role } } } },
        mergePatch(options),
      ),
    );
  }

  // ---- creating -----------------------------------------------------------------------

  async createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void> {
    const { namespace, settings } = this;
    const { deploymentId } = request;
    const missingRoles = [...new Set(request.plan.pods.map((pod) => pod.nodeRole))].filter(
      (role) => !request.nodes.some((node) => node.role === role),
    );
    if (missingRoles.length > 0) {
      throw new ProviderError('NoNodeForPods', `no node planned for the pod roles: ${missingRoles.join(', ')}`, false);
    }
    // Policies first: a pod must never run, even briefly, without its network fence.
    await Promise.all(
      buildNetworkPolicies(request, settings).map((body) => {
        const name = body.metadata?.name ?? '';
        return this.ensureCreated('network policy', name, deploymentId, signal,
          (options) => this.networking.createNamespacedNetworkPolicy({ namespace, body }, options),
          (options) => this.networking.readNamespacedNetworkPolicy({ name, namespace }, options),
        );
      }),
    );
    await Promise.all(
      indexPods(request.plan.pods).map((pod) =>
        this.ensureCreated('pod', pod.name, deploymentId, signal,
          (options) => this.core.createNamespacedPod({ namespace, body: buildPod(request, pod, settings) }, options),
          (options) => this.core.readNamespacedPod({ name: pod.name, namespace }, options),
        ),
      ),
    );
    await Promise.all(
      request.plan.services.map((name) =>
        this.ensureCreated('service', name, deploymentId, signal,
          (options) => this.core.createNamespacedService({ namespace, body: buildService(request, name, settings) }, options),
          (options) => this.core.readNamespacedService({ name, namespace }, options),
        ),
      ),
    );
  }

  /**
   * A 409 means an object of that name exists: ours and alive is done; ours and being
   * deleted (a pod still terminating) will be gone soon, so the create is retried then;
   * anyone else's is a conflict no retry solves.
   */
  private async ensureCreated(
    kind: string,
    name: string,
    deploymentId: string,
    signal: AbortSignal | undefined,
    create: (options?: ConfigurationOptions) => Promise<unknown>,
    read: (options?: ConfigurationOptions) => Promise<{ metadata?: { labels?: Record<string, string>; deletionTimestamp?: Date } }>,
  ): Promise<void> {
    try {
      await this.call(`create ${kind} ${name}`, signal, create);
      return;
    } catch (error) {
      if (apiStatusCode(error) !== 409) throw error;
    }
    let existing: Awaited<ReturnType<typeof read>>;
    try {
      existing = await this.call(`read ${kind} ${name}`, signal, read);
    } catch (error) {
      if (apiStatusCode(error) !== 404) throw error;
      throw new ProviderError('ObjectBeingDeleted', `${kind} ${name} was deleted while being created; create it again`, true);
    }
    const labels = existing.metadata?.labels ?? {};
    if (labels[DEPLOYMENT_TAG] !== deploymentId || labels[CONTROL_PLANE_TAG] !== CONTROL_PLANE_TAG_VALUE) {
      const owner = labels[DEPLOYMENT_TAG] ? `deployment ${labels[DEPLOYMENT_TAG]}` : 'something not managed by simdeploy';
      throw new ProviderError('NameTaken', `${kind} ${name} already exists in ${this.namespace} and belongs to ${owner}`, false);
    }
    if (existing.metadata?.deletionTimestamp) {
      throw new ProviderError('ObjectBeingDeleted', `${kind} ${name} is still being deleted; create it again once it is gone`, true);
    }
  }

  // ---- checking -----------------------------------------------------------------------

  async checkWorkload(deploymentId: string, pods: readonly PodPlan[], signal?: AbortSignal): Promise<ReadinessCheck> {
    const listed = await this.call('list pods', signal, (options) =>
      this.core.listNamespacedPod({ namespace: this.namespace, labelSelector: deploymentSelector(deploymentId) }, options),
    );
    return this.workloadReadiness(pods, listed.items, signal);
  }

  /** One pod list by label for many deployments (chunked), so watching costs a call per chunk, not per deployment. */
  override async checkWorkloadBatch(requests: readonly WorkloadCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    const answers: ReadinessByDeployment = new Map();
    for (const part of chunk(requests, this.batchSize)) {
      let listed: V1Pod[];
      try {
        listed = await this.listAll('list pods', signal, (_continue, options) =>
          this.core.listNamespacedPod(
            { namespace: this.namespace, labelSelector: this.deploymentsSelector(part), limit: this.listPageSize, _continue },
            options,
          ),
        );
      } catch {
        continue;
      }
      for (const request of part) {
        const own = listed.filter((pod) => pod.metadata?.labels?.[DEPLOYMENT_TAG] === request.deploymentId);
        try {
          answers.set(request.deploymentId, await this.workloadReadiness(request.pods, own, signal));
        } catch {
          // Left out: asked again on the next round.
        }
      }
    }
    return answers;
  }

  private deploymentsSelector(requests: readonly { deploymentId: string }[]): string {
    const ids = [...new Set(requests.map((r) => r.deploymentId))];
    return ids.length === 1 ? deploymentSelector(ids[0]) : `${DEPLOYMENT_TAG} in (${ids.join(',')})`;
  }

  private async workloadReadiness(pods: readonly PodPlan[], listed: readonly V1Pod[], signal?: AbortSignal): Promise<ReadinessCheck> {
    const byName = new Map(listed.map((pod) => [pod.metadata?.name ?? '', pod]));
    const verdicts = pods.map((plan) => {
      const pod = byName.get(plan.name);
      return { plan, pod, verdict: pod ? podVerdict(pod, this.readiness) : undefined };
    });
    for (const { plan, verdict } of verdicts) {
      if (verdict?.state === 'failed') {
        const logs = verdict.container ? await this.tailLogs(plan.name, verdict.container, this.podReadyLogLines, signal) : [];
        return { state: 'failed', error: { code: verdict.code, message: verdict.message, transient: false }, logs };
      }
    }
    const waiting = verdicts.filter(({ verdict }) => verdict?.state !== 'ready');
    if (waiting.length === 0) return { state: 'ready' };
    const describe = ({ plan, verdict }: (typeof verdicts)[number]) =>
      `${plan.name} (${verdict === undefined ? 'missing' : verdict.state === 'pending' ? verdict.summary : verdict.state})`;
    // A reason is a cause worth showing the user (a failing pull, no room to schedule); ContainerCreating is progress, in the detail.
    const reasons = waiting.flatMap(({ verdict }) => (verdict?.state === 'pending' && verdict.reason ? [verdict.reason] : []));
    const reason = reasons.find((r) => !ROUTINE_WAITING.has(r.code));
    return { state: 'pending', detail: `waiting for pods: ${waiting.map(describe).join(', ')}`, ...(reason ? { reason } : {}) };
  }

  // ---- deleting -----------------------------------------------------------------------

  /**
   * Deletes pods, services, then the network policies once no pod is left. A pod still
   * Terminating well past its grace period on a NotReady or vanished node will never be
   * confirmed by its kubelet: it is force-deleted (only that very pod, by uid) and reported.
   */
  async deleteWorkload(deploymentId: string, signal?: AbortSignal): Promise<DeletionResult> {
    const { namespace } = this;
    const labelSelector = deploymentSelector(deploymentId);
    await this.ensureDeleted('delete pods', signal, (options) =>
      this.core.deleteCollectionNamespacedPod({ namespace, labelSelector, gracePeriodSeconds: this.deleteGracePeriodSeconds }, options),
    );
    // Older API servers have no deleteCollection for services.
    const services = await this.call('list services', signal, (options) => this.core.listNamespacedService({ namespace, labelSelector }, options));
    await Promise.all(
      namesOf(services.items).map((name) =>
        this.ensureDeleted(`delete service ${name}`, signal, (options) => this.core.deleteNamespacedService({ name, namespace }, options)),
      ),
    );
    const pods = await this.call('list pods', signal, (options) => this.core.listNamespacedPod({ namespace, labelSelector }, options));
    const { forced, stuckOn, waiting } = await this.forceDeleteStuck(pods.items, signal);
    const forcedNote = forced.length > 0 ? `force-deleted ${forced.join(', ')}, stuck Terminating on ${[...stuckOn].join(', ')}` : undefined;
    const result = (gone: boolean, detail?: string): DeletionResult => ({
      gone,
      ...(forced.length > 0 ? { forced } : {}),
      ...(detail ? { detail } : {}),
    });
    // The fences stay up until every pod has finished terminating.
    if (waiting.length > 0) {
      return result(false, [`waiting for pods to terminate: ${waiting.join(', ')}`, forcedNote].filter(Boolean).join('; '));
    }
    await this.ensureDeleted('delete network policies', signal, (options) =>
      this.networking.deleteCollectionNamespacedNetworkPolicy({ namespace, labelSelector }, options),
    );
    const [servicesLeft, policiesLeft] = await Promise.all([
      this.call('list services', signal, (options) => this.core.listNamespacedService({ namespace, labelSelector }, options)),
      this.call('list network policies', signal, (options) => this.networking.listNamespacedNetworkPolicy({ namespace, labelSelector }, options)),
    ]);
    return result(servicesLeft.items.length === 0 && policiesLeft.items.length === 0, forcedNote);
  }

  private async forceDeleteStuck(pods: readonly V1Pod[], signal?: AbortSignal) {
    const forced: string[] = [];
    const stuckOn = new Set<string>();
    const waiting: string[] = [];
    const nodes = new Map<string, Promise<V1Node | null>>();
    const nodeNamed = (name: string) => {
      if (!nodes.has(name)) {
        nodes.set(
          name,
          this.call(`read node ${name}`, signal, (options) => this.core.readNode({ name }, options)).catch((error: unknown) => {
            if (apiStatusCode(error) === 404) return null;
            throw error;
          }),
        );
      }
      return nodes.get(name) as Promise<V1Node | null>;
    };
    for (const pod of [...pods].sort((a, b) => qualified(a).localeCompare(qualified(b)))) {
      const name = pod.metadata?.name ?? '';
      const graceEnds = timeOf(pod.metadata?.deletionTimestamp);
      const nodeName = pod.spec?.nodeName ?? '';
      if (graceEnds !== undefined && nodeName && this.now() >= graceEnds + this.forceDeleteAfterMs) {
        const node = await nodeNamed(nodeName);
        if (node === null || !isNodeReady(node)) {
          await this.ensureDeleted(`force-delete pod ${name}`, signal, (options) =>
            this.core.deleteNamespacedPod(
              { name, namespace: pod.metadata?.namespace ?? this.namespace, gracePeriodSeconds: 0, body: { preconditions: { uid: pod.metadata?.uid } } },
              options,
            ),
          );
          forced.push(qualified(pod));
          stuckOn.add(`${nodeName} (${node === null ? 'gone' : 'NotReady'})`);
          continue;
        }
      }
      waiting.push(name);
    }
    return { forced, stuckOn, waiting };
  }

  async deleteNodes(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<DeletionResult> {
    const labelSelector = deploymentSelector(deploymentId);
    const labelled = await this.call('list nodes', signal, (options) => this.core.listNode({ labelSelector }, options));
    // A labelled node whose name was never recorded belongs to the deployment too.
    const targets = [...new Set([...nodeNames.filter((name) => name !== ''), ...namesOf(labelled.items)])];
    const details: string[] = [];
    let allDeleted = true;
    for (const name of targets) {
      const drained = await this.drainAndDelete(name, signal);
      if (!drained.deleted) allDeleted = false;
      if (drained.detail) details.push(drained.detail);
    }
    const left = await this.call('list nodes', signal, (options) => this.core.listNode({ labelSelector }, options));
    return { gone: allDeleted && left.items.length === 0, ...(details.length > 0 ? { detail: details.join('; ') } : {}) };
  }

  /**
   * `kubectl drain` then `kubectl delete node`: cordon (recording when, on the node), evict
   * what may be evicted, and delete the Node only once the evicted pods are gone. Refused
   * evictions are asked again on the next call until the drain deadline; a disruption
   * budget that can never allow it, or a pod under several budgets, fails at once with the
   * budgets' names. On a NotReady node nothing can terminate, so it is not waited for.
   */
  private async drainAndDelete(nodeName: string, signal?: AbortSignal): Promise<Drained> {
    let node: V1Node;
    try {
      node = await this.call(`read node ${nodeName}`, signal, (options) => this.core.readNode({ name: nodeName }, options));
    } catch (error) {
      if (apiStatusCode(error) === 404) return { deleted: true };
      throw error;
    }
    const recorded = timeOf(node.metadata?.annotations?.[DRAIN_STARTED_ANNOTATION]);
    const startedAt = recorded ?? this.now();
    if (!node.spec?.unschedulable || recorded === undefined) {
      try {
        await this.call(`cordon node ${nodeName}`, signal, (options) =>
          this.core.patchNode(
            {
              name: nodeName,
              body: { spec: { unschedulable: true }, metadata: { annotations: { [DRAIN_STARTED_ANNOTATION]: new Date(startedAt).toISOString() } } },
            },
            mergePatch(options),
          ),
        );
      } catch (error) {
        if (apiStatusCode(error) === 404) return { deleted: true };
        throw error;
      }
    }
    const pastDeadline = this.now() - startedAt >= this.drainTimeoutMs;
    const blocked: string[] = [];
    const throttled: string[] = [];
    const annotations = node.metadata?.annotations ?? {};
    const retryAt = timeOf(annotations[DRAIN_RETRY_AT_ANNOTATION]) ?? 0;
    // Past the deadline the evictions are asked once more, to know whether a budget still refuses.
    const backingOff = this.now() < retryAt && !pastDeadline;
    if (!backingOff) {
      let retryAfter = 0;
      for (const pod of await this.evictablePods(nodeName, signal)) {
        if (pod.metadata?.deletionTimestamp) continue;
        const refusal = await this.evict(pod, nodeName, signal);
        if (refusal?.kind === 'budget') blocked.push(`${qualified(pod)} (budget ${refusal.budget})`);
        if (refusal?.kind === 'throttled') throttled.push(qualified(pod));
        retryAfter = Math.max(retryAfter, refusal?.retryAfterSeconds ?? 0);
      }
      if (blocked.length + throttled.length > 0) {
        const refusals = Number(annotations[DRAIN_REFUSALS_ANNOTATION] ?? 0) + 1;
        const next = new Date(this.now() + evictionBackOffMs(refusals, retryAfter)).toISOString();
        await this.call(`note refused evictions on ${nodeName}`, signal, (options) =>
          this.core.patchNode(
            { name: nodeName, body: { metadata: { annotations: { [DRAIN_REFUSALS_ANNOTATION]: String(refusals), [DRAIN_RETRY_AT_ANNOTATION]: next } } } },
            mergePatch(options),
          ),
        );
      }
    }
    const remaining = (await this.evictablePods(nodeName, signal)).map(qualified);
    if (blocked.length > 0 && pastDeadline && isNodeReady(node)) {
      throw new ProviderError(
        'DisruptionBudgetBlocksDrain',
        `drain of ${nodeName}: evictions still refused after ${Math.round(this.drainTimeoutMs / 1000)} s by disruption budgets: ${blocked.join(', ')}`,
        false,
      );
    }
    const waitingFor = remaining.length > 0 ? remaining : [];
    if (waitingFor.length > 0 && isNodeReady(node) && !pastDeadline) {
      const why = [
        ...blocked.map((b) => `eviction refused: ${b}`),
        ...throttled.map((t) => `eviction throttled: ${t}`),
        ...(backingOff ? [`refused evictions asked again at ${new Date(retryAt).toISOString()}`] : []),
      ];
      return { deleted: false, detail: `draining ${nodeName}: waiting for ${waitingFor.join(', ')}${why.length ? ` (${why.join('; ')})` : ''}` };
    }
    await this.ensureDeleted(`delete node ${nodeName}`, signal, (options) => this.core.deleteNode({ name: nodeName }, options));
    if (waitingFor.length === 0) return { deleted: true };
    const because = isNodeReady(node) ? 'the drain deadline passed' : 'the node is NotReady';
    return { deleted: true, detail: `deleted ${nodeName} with ${waitingFor.join(', ')} still on it: ${because}` };
  }

  /** Every namespace, as `kubectl drain` does; DaemonSet and mirror pods die with the node. */
  private async evictablePods(nodeName: string, signal?: AbortSignal): Promise<V1Pod[]> {
    const onNode = await this.listAll(`list pods on node ${nodeName}`, signal, (_continue, options) =>
      this.core.listPodForAllNamespaces({ fieldSelector: `spec.nodeName=${nodeName}`, limit: this.listPageSize, _continue }, options),
    );
    return onNode.filter((pod) => !isDaemonSetPod(pod) && !isMirrorPod(pod));
  }

  private async evict(
    pod: V1Pod,
    nodeName: string,
    signal?: AbortSignal,
  ): Promise<{ kind: 'budget' | 'throttled'; budget?: string; retryAfterSeconds?: number } | undefined> {
    const name = pod.metadata?.name ?? '';
    const namespace = pod.metadata?.namespace ?? this.namespace;
    try {
      await this.call(`evict pod ${namespace}/${name} from ${nodeName}`, signal, (options) =>
        this.core.createNamespacedPodEviction(
          { name, namespace, body: { apiVersion: 'policy/v1', kind: 'Eviction', metadata: { name, namespace } } },
          options,
        ),
      );
      return undefined;
    } catch (error) {
      const code = apiStatusCode(error);
      if (code === 404) return undefined;
      if (error instanceof ProviderError && error.code === 'MultipleDisruptionBudgets') {
        const names = await this.budgetsCovering(pod, signal);
        throw new ProviderError(
          'MultipleDisruptionBudgets',
          `pod ${namespace}/${name} on ${nodeName} cannot be evicted: it is under several disruption budgets (${names.join(', ') || 'names not readable'}), which the eviction API does not support`,
          false,
          { cause: error },
        );
      }
      if (code !== 429) throw error;
      const budgetName = budgetNameOf(error);
      const retryAfterSeconds = retryAfterOf(error);
      if (!budgetName) return { kind: 'throttled', retryAfterSeconds };
      const never = await this.readBudget(namespace, budgetName, signal).then((b) => (b ? neverAllowsDisruption(b) : undefined));
      if (never) {
        throw new ProviderError(
          'DisruptionBudgetBlocksDrain',
          `pod ${namespace}/${name} on ${nodeName} cannot be evicted: disruption budget ${namespace}/${budgetName} never allows it (${never})`,
          false,
          { cause: error },
        );
      }
      return { kind: 'budget', budget: `${namespace}/${budgetName}`, retryAfterSeconds };
    }
  }

  /** Without read access to budgets the refusal still counts as one that may pass. */
  private async readBudget(namespace: string, name: string, signal?: AbortSignal): Promise<V1PodDisruptionBudget | undefined> {
    try {
      return await this.call(`read disruption budget ${namespace}/${name}`, signal, (options) =>
        this.policy.readNamespacedPodDisruptionBudget({ name, namespace }, options),
      );
    } catch {
      return undefined;
    }
  }

  private async budgetsCovering(pod: V1Pod, signal?: AbortSignal): Promise<string[]> {
    const namespace = pod.metadata?.namespace ?? this.namespace;
    try {
      const budgets = await this.call(`list disruption budgets in ${namespace}`, signal, (options) =>
        this.policy.listNamespacedPodDisruptionBudget({ namespace }, options),
      );
      return budgets.items
        .filter((b) => matchesSelector(b.spec?.selector, pod.metadata?.labels))
        .map((b) => `${namespace}/${b.metadata?.name ?? ''}`)
        .sort();
    } catch {
      return [];
    }
  }

  // ---- access and logs ----------------------------------------------------------------

  /** The simulator Service's in-cluster address, once it exists. */
  async simulatorEndpoint(deploymentId: string, signal?: AbortSignal): Promise<SimulatorEndpoint | null> {
    const services = await this.call('list services', signal, (options) =>
      this.core.listNamespacedService(
        { namespace: this.namespace, labelSelector: `${deploymentSelector(deploymentId)},${POD_ROLE_LABEL}=simulator` },
        options,
      ),
    );
    const service = services.items.find((s) => !s.metadata?.deletionTimestamp);
    const name = service?.metadata?.name;
    if (!name) return null;
    const port = service.spec?.ports?.find((p) => p.name === 'simulator')?.port ?? this.settings.simulatorPort;
    return { url: `http://${name}.${this.namespace}.svc.cluster.local:${port}` };
  }

  /**
   * The last lines of one of the deployment's pods. A pod of another deployment (or none) is
   * answered as gone, so a caller cannot read anyone else's logs through a pod name.
   */
  async readLogs(deploymentId: string, podName: string, tail: number, signal?: AbortSignal): Promise<string[]> {
    let pod: V1Pod;
    try {
      pod = await this.call(`read pod ${podName}`, signal, (options) => this.core.readNamespacedPod({ name: podName, namespace: this.namespace }, options));
    } catch (error) {
      if (apiStatusCode(error) === 404) return [];
      throw error;
    }
    if (pod.metadata?.labels?.[DEPLOYMENT_TAG] !== deploymentId) return [];
    const container = pod.spec?.containers?.[0]?.name;
    return container ? this.tailLogs(podName, container, tail, signal, true) : [];
  }

  async listManagedWorkloads(signal?: AbortSignal): Promise<ManagedWorkload[]> {
    const { namespace } = this;
    const labelSelector = managedSelector;
    const limit = this.listPageSize;
    const [pods, services, policies] = await Promise.all([
      this.listAll('list managed pods', signal, (_continue, options) =>
        this.core.listNamespacedPod({ namespace, labelSelector, _continue, limit }, options),
      ),
      this.listAll('list managed services', signal, (_continue, options) =>
        this.core.listNamespacedService({ namespace, labelSelector, _continue, limit }, options),
      ),
      this.listAll('list managed network policies', signal, (_continue, options) =>
        this.networking.listNamespacedNetworkPolicy({ namespace, labelSelector, _continue, limit }, options),
      ),
    ]);
    // A deployment with only services or policies left is an orphan too, with no pods.
    const workloads = new Map<string, string[]>();
    const deploymentOf = (item: { metadata?: { labels?: Record<string, string> } }) => item.metadata?.labels?.[DEPLOYMENT_TAG];
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

  /**
   * A container that never started answers 400 ("waiting to start"): it has no logs. In a
   * failure report any other trouble reading them gives no lines too; the failure is what
   * matters there.
   */
  private async tailLogs(podName: string, container: string, tail: number, signal?: AbortSignal, rethrow = false): Promise<string[]> {
    if (!(tail > 0)) return [];
    try {
      const text = await this.call(`read logs of ${podName}`, signal, (options) =>
        this.core.readNamespacedPodLog({ name: podName, namespace: this.namespace, container, tailLines: tail }, options),
      );
      return text.split('\n').filter((line) => line !== '').slice(-tail);
    } catch (error) {
      const code = apiStatusCode(error);
      if (!rethrow || code === 400 || code === 404) return [];
      throw error;
    }
  }

  // ---- calls ----------------------------------------------------------------------------

  /** Runs one API call with the caller's abort signal, turning its failure into a ProviderError. */
  private async call<T>(doing: string, signal: AbortSignal | undefined, run: (options?: ConfigurationOptions) => Promise<T>): Promise<T> {
    try {
      signal?.throwIfAborted();
      return await run(signal ? withSignal(signal) : undefined);
    } catch (error) {
      throw classifyKubernetesError(error, doing);
    }
  }

  private async ensureDeleted(doing: string, signal: AbortSignal | undefined, run: (options?: ConfigurationOptions) => Promise<unknown>): Promise<void> {
    try {
      await this.call(doing, signal, run);
    } catch (error) {
      if (apiStatusCode(error) !== 404) throw error;
    }
  }

  /**
   * Follows a list's pages. A continue token the server has compacted away answers 410
   * Expired; the list then starts over, a few times at most.
   */
  private async listAll<T>(
    doing: string,
    signal: AbortSignal | undefined,
    page: (_continue: string | undefined, options?: ConfigurationOptions) => Promise<{ items: T[]; metadata?: { _continue?: string } }>,
  ): Promise<T[]> {
    for (let attempt = 1; ; attempt++) {
      const items: T[] = [];
      let next: string | undefined;
      try {
        do {
          const result = await this.call(doing, signal, (options) => page(next, options));
          items.push(...result.items);
          next = result.metadata?._continue || undefined;
        } while (next);
        return items;
      } catch (error) {
        if (apiStatusCode(error) !== 410 || attempt >= 3) throw error;
      }
    }
  }
}

/** Options that send a body as a JSON merge patch (cordon, labels). */
function mergePatch(options: ConfigurationOptions | undefined): ConfigurationOptions {
  const { setHeaderOptions, PatchStrategy } = kubernetesClient();
  return setHeaderOptions('Content-Type', PatchStrategy.MergePatch, options);
}

/** Hands the caller's AbortSignal to node-fetch through a request middleware. */
function withSignal(signal: AbortSignal): ConfigurationOptions {
  return {
    middleware: [
      {
        pre: (context) => {
          context.setSignal(signal);
          return new (kubernetesClient().Observable)(Promise.resolve(context));
        },
        post: (context) => new (kubernetesClient().Observable)(Promise.resolve(context)),
      },
    ],
    middlewareMergeStrategy: 'append',
  };
}
