import { KubeConfig } from '@kubernetes/client-node';
import { Service, Pod } from 'kubernetes-models/v1';
import { NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import nock from 'nock';
import { SelectorError, labelSelectorObject, parseFieldSelector, parseLabelSelector } from './selectors';

/** A made-up API server: nock answers for it, nothing resolves or leaves the machine. */
export const FAKE_SERVER = 'https://k8s.test:6443';
export const TEST_TOKEN = 'test-token';

export function kubeConfigFor(server: string): KubeConfig {
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromOptions({
    clusters: [{ name: 'test', server, skipTLSVerify: true }],
    users: [{ name: 'test', token: TEST_TOKEN }],
    contexts: [{ name: 'test', cluster: 'test', user: 'test' }],
    currentContext: 'test',
  });
  return kubeConfig;
}

export interface RecordedRequest {
  method: string;
  /** Path with its query string, decoded, e.g. `/api/v1/nodes?labelSelector=a=b`. */
  path: string;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** The `Status` an API server sends with a refusal. */
export const status = (code: number, reason: string | undefined, message: string, details?: object) => ({
  kind: 'Status',
  apiVersion: 'v1',
  metadata: {},
  status: 'Failure',
  message,
  ...(reason === undefined ? {} : { reason }),
  ...(details === undefined ? {} : { details }),
  code,
});

export const JSON_HEADERS = { 'content-type': 'application/json' };

/** A test's clock, shared by the double and the runtime under test. */
export class FakeClock {
  constructor(private ms = Date.parse('2030-01-01T00:00:00Z')) {}
  now = (): number => this.ms;
  iso = (): string => new Date(this.ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
  advance(seconds: number): void {
    this.ms += seconds * 1000;
  }
}

/** Any Kubernetes object as JSON. */
export type Obj = Record<string, any>;

class HttpError extends Error {
  constructor(
    readonly code: number,
    readonly body: object,
  ) {
    super(JSON.stringify(body));
  }
}

const fail = (code: number, reason: string | undefined, message: string, details?: object): never => {
  throw new HttpError(code, status(code, reason, message, details));
};
const notFound = (resource: string, name: string): never =>
  fail(404, 'NotFound', `${resource} "${name}" not found`, { name, kind: resource });

interface Kind {
  resource: string;
  kind: string;
  apiVersion: string;
  namespaced: boolean;
  validate?: (body: Obj) => void;
}

const KINDS: Record<string, Kind> = {
  pods: { resource: 'pods', kind: 'Pod', apiVersion: 'v1', namespaced: true, validate: (b) => new Pod(b as never).validate() },
  services: {
    resource: 'services',
    kind: 'Service',
    apiVersion: 'v1',
    namespaced: true,
    validate: (b) => new Service(b as never).validate(),
  },
  networkpolicies: {
    resource: 'networkpolicies',
    kind: 'NetworkPolicy',
    apiVersion: 'networking.k8s.io/v1',
    namespaced: true,
    validate: (b) => new NetworkPolicy(b as never).validate(),
  },
  poddisruptionbudgets: { resource: 'poddisruptionbudgets', kind: 'PodDisruptionBudget', apiVersion: 'policy/v1', namespaced: true },
  nodes: { resource: 'nodes', kind: 'Node', apiVersion: 'v1', namespaced: false },
};

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
const LABEL_KEY = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/;

const clone = <T>(value: T): T => JSON.parse(JSON.stringify(value)) as T;

/** RFC 7386: objects merge, null removes, anything else replaces. */
function mergePatch(target: unknown, patch: unknown): unknown {
  if (typeof patch !== 'object' || patch === null || Array.isArray(patch)) return patch;
  const out: Obj = typeof target === 'object' && target !== null && !Array.isArray(target) ? { ...(target as Obj) } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete out[key];
    else out[key] = mergePatch(out[key], value);
  }
  return out;
}

export const isReadyNode = (node: Obj | undefined): boolean =>
  (node?.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');

const isPodReady = (pod: Obj): boolean =>
  (pod.status?.conditions ?? []).some((c: Obj) => c.type === 'Ready' && c.status === 'True');

/** A node's taint as the API stores it (`--register-with-taints=key=value:Effect`). */
export interface Taint {
  key: string;
  value?: string;
  effect: 'NoSchedule' | 'PreferNoSchedule' | 'NoExecute';
}

export interface ContainerWaiting {
  reason: string;
  message?: string;
}

export interface ContainerTerminated {
  exitCode: number;
  reason?: string;
  signal?: number;
  message?: string;
}

/**
 * A small API server in memory, answering through nock the calls the pod runtime makes, with
 * the shapes a real server uses: objects get uid, resourceVersion and creationTimestamp;
 * graceful deletion sets deletionTimestamp and the pod stays until its kubelet confirms (it
 * never does on a NotReady or vanished node); creates meet "object is being deleted" while
 * a pod of that name terminates; lists evaluate label and field selectors and page with
 * continue tokens that can expire (410); logs answer 400 "waiting to start" for a container
 * that never ran and 200 for a terminated one; PATCH takes only a merge patch; evictions
 * honour PodDisruptionBudgets (429 with the budget's cause, 500 for several budgets).
 *
 * The scheduler and kubelets are the test's: `schedule`, `run`, `wait`, `terminate` and
 * friends set what they would have written.
 */
export class FakeCluster {
  readonly requests: RecordedRequest[] = [];
  readonly clock: FakeClock;
  private readonly store = new Map<string, Map<string, Obj>>();
  private readonly logs = new Map<string, string>();
  /** Pods whose kubelet takes the whole grace period to confirm termination. */
  private readonly slowToStop = new Set<string>();
  private readonly faults: { method: string; path: RegExp; code: number; body: object; times: number }[] = [];
  private revision = 100;
  private uidCounter = 0;
  private continueEpoch = 0;

  constructor(clock = new FakeClock()) {
    this.clock = clock;
    for (const resource of Object.keys(KINDS)) this.store.set(resource, new Map());
    const scope = nock(FAKE_SERVER, { reqheaders: { authorization: `Bearer ${TEST_TOKEN}` } }).persist();
    for (const method of ['GET', 'POST', 'PATCH', 'PUT', 'DELETE']) {
      // eslint-disable-next-line @typescript-eslint/no-this-alias
      const cluster = this;
      scope.intercept(() => true, method).reply(function (uri, body) {
        return cluster.handle(method, uri, body, this.req.headers as RecordedRequest['headers']);
      });
    }
  }

  // ---- what the test sees -------------------------------------------------------------

  calls(): string[] {
    return this.requests.map((r) => `${r.method} ${r.path}`);
  }

  bodyOf(method: string, path: string): unknown {
    return this.requests.find((r) => r.method === method && r.path === path)?.body;
  }

  /** Bodies of the creates of one resource, in order. */
  created(resource: string): Obj[] {
    return this.requests
      .filter((r) => r.method === 'POST' && new RegExp(`/${resource}$`).test(r.path.split('?')[0]))
      .map((r) => r.body as Obj);
  }

  get(resource: string, name: string, namespace = 'simdeploy'): Obj | undefined {
    return this.store.get(resource)?.get(this.key(resource, namespace, name));
  }

  list(resource: string): Obj[] {
    return [...(this.store.get(resource)?.values() ?? [])];
  }

  // ---- what the scheduler, the kubelets and other users would have done ----------------

  addNode(name: string, options: { ready?: boolean; labels?: Record<string, string>; unschedulable?: boolean; taints?: Taint[] } = {}): Obj {
    const node = this.stamp('nodes', {
      apiVersion: 'v1',
      kind: 'Node',
      metadata: { name, labels: { 'kubernetes.io/hostname': name, ...options.labels } },
      spec: { ...(options.unschedulable ? { unschedulable: true } : {}), ...(options.taints?.length ? { taints: options.taints } : {}) },
      status: { conditions: [this.nodeReadyCondition(options.ready ?? true)] },
    });
    this.store.get('nodes')?.set(name, node);
    return node;
  }

  setNodeReady(name: string, ready: boolean): void {
    const node = this.get('nodes', name);
    if (node) node.status.conditions = [this.nodeReadyCondition(ready)];
  }

  /** Someone else's object, as it is stored (e.g. a pod of another team on the node). */
  put(resource: string, object: Obj): Obj {
    const kind = KINDS[resource];
    const stored = this.stamp(resource, { apiVersion: kind.apiVersion, kind: kind.kind, ...clone(object) });
    this.store.get(resource)?.set(this.key(resource, stored.metadata.namespace, stored.metadata.name), stored);
    return stored;
  }

  /** The scheduler found no node: PodScheduled=False with its message. */
  unschedulable(podName: string, message: string): void {
    const pod = this.pod(podName);
    pod.status = {
      phase: 'Pending',
      qosClass: pod.status?.qosClass,
      conditions: [
        { type: 'PodScheduled', status: 'False', lastProbeTime: null, lastTransitionTime: this.clock.iso(), reason: 'Unschedulable', message },
      ],
    };
  }

  /** Bound to a node; the kubelet has acknowledged it and is creating its containers. */
  schedule(podName: string, nodeName: string): void {
    const pod = this.pod(podName);
    pod.spec.nodeName = nodeName;
    this.setContainers(pod, 'Pending', (c) => ({ waiting: { reason: 'ContainerCreating' }, name: c.name }));
  }

  /** The kubelet waits on the container (pulling its image, a missing secret ...). */
  wait(podName: string, waiting: ContainerWaiting): void {
    this.setContainers(this.pod(podName), 'Pending', () => ({ waiting }));
  }

  run(podName: string, options: { ready?: boolean } = {}): void {
    const ready = options.ready ?? true;
    const pod = this.pod(podName);
    this.setContainers(pod, 'Running', () => ({ running: { startedAt: this.clock.iso() } }), ready);
  }

  terminate(podName: string, terminated: ContainerTerminated, logs?: string): void {
    const pod = this.pod(podName);
    const phase = terminated.exitCode === 0 ? 'Succeeded' : 'Failed';
    this.setContainers(pod, phase, () => ({
      terminated: { startedAt: this.clock.iso(), finishedAt: this.clock.iso(), containerID: `containerd://${podName}`, ...terminated },
    }));
    if (logs !== undefined) this.setLogs(podName, logs);
  }

  setLogs(podName: string, text: string): void {
    this.logs.set(podName, text);
  }

  /** Its kubelet confirms termination only when the grace period is over. */
  slowToTerminate(podName: string): void {
    this.slowToStop.add(podName);
  }

  /** The node object is gone (deleted by someone, or the machine vanished and its cloud controller removed it). */
  removeNode(name: string): void {
    this.store.get('nodes')?.delete(name);
  }

  /** The next `times` requests whose decoded path (with its query) matches answer `code` with `body` instead. */
  failNext(method: string, path: RegExp, code: number, body: object, times = 1): void {
    this.faults.push({ method, path, code, body, times });
  }

  /** Continue tokens handed out so far are too old now (the server compacted etcd). */
  expireContinueTokens(): void {
    this.continueEpoch++;
  }

  // ---- the server ---------------------------------------------------------------------

  private handle(method: string, uri: string, rawBody: unknown, headers: RecordedRequest['headers']) {
    const body = typeof rawBody === 'string' && rawBody !== '' ? safeJson(rawBody) : rawBody === '' ? undefined : rawBody;
    // Query strings encode a space as '+' (`deployment-id in (a,b)`).
    const decoded = decodeURIComponent(uri.replace(/\+/g, '%20'));
    this.requests.push({ method, path: decoded, headers, body });
    const url = new URL(uri, FAKE_SERVER);
    try {
      const fault = this.faults.find((f) => f.method === method && f.path.test(decoded) && f.times > 0);
      if (fault) {
        fault.times--;
        return [fault.code, fault.body, JSON_HEADERS];
      }
      this.kubeletsConfirm();
      const [code, answer, type] = this.route(method, url, body, headers);
      return [code, answer, { 'content-type': type ?? 'application/json' }];
    } catch (error) {
      if (error instanceof HttpError) return [error.code, error.body, JSON_HEADERS];
      if (error instanceof SelectorError) return [400, status(400, 'BadRequest', error.message), JSON_HEADERS];
      throw error;
    }
  }

  private route(method: string, url: URL, body: unknown, headers: RecordedRequest['headers']): [number, unknown, string?] {
    const match =
      /^\/(?:api\/v1|apis\/([^/]+\/v1))(?:\/namespaces\/([^/]+))?\/([a-z]+)(?:\/([^/]+))?(?:\/([a-z]+))?$/.exec(url.pathname);
    const resource = match?.[3] ?? '';
    const kind = KINDS[resource];
    if (!match || !kind) return fail(404, 'NotFound', 'the server could not find the requested resource');
    const [, , namespace, , name, sub] = match;
    const query = url.searchParams;
    if (sub === 'eviction' && method === 'POST') return this.evict(namespace, name, body as Obj);
    if (sub === 'log' && method === 'GET') return this.podLog(namespace, name, query);
    if (sub) return fail(404, 'NotFound', 'the server could not find the requested resource');
    if (name === undefined) {
      if (method === 'GET') return [200, this.listOf(kind, namespace, query)];
      if (method === 'POST') return [201, this.create(kind, namespace, body as Obj)];
      if (method === 'DELETE') return [200, this.deleteCollection(kind, namespace, query)];
    } else {
      if (method === 'GET') return [200, this.read(kind, namespace, name)];
      if (method === 'DELETE') return this.delete(kind, namespace, name, query, body as Obj | undefined);
      if (method === 'PATCH') return [200, this.patch(kind, namespace, name, body, headers)];
    }
    return fail(405, 'MethodNotAllowed', `the server does not allow this method on the requested resource`);
  }

  private key(resource: string, namespace: string | undefined, name: string): string {
    return KINDS[resource]?.namespaced ? `${namespace}/${name}` : name;
  }

  private stamp(resource: string, object: Obj): Obj {
    object.metadata = {
      ...object.metadata,
      uid: object.metadata?.uid ?? `uid-${resource}-${++this.uidCounter}`,
      resourceVersion: String(++this.revision),
      creationTimestamp: object.metadata?.creationTimestamp ?? this.clock.iso(),
    };
    return object;
  }

  private pod(name: string, namespace = 'simdeploy'): Obj {
    const pod = this.get('pods', name, namespace);
    if (!pod) throw new Error(`the test double has no pod ${namespace}/${name}`);
    pod.metadata.resourceVersion = String(++this.revision);
    return pod;
  }

  private nodeReadyCondition(ready: boolean): Obj {
    return ready
      ? { type: 'Ready', status: 'True', reason: 'KubeletReady', message: 'kubelet is posting ready status', lastHeartbeatTime: this.clock.iso(), lastTransitionTime: this.clock.iso() }
      : { type: 'Ready', status: 'Unknown', reason: 'NodeStatusUnknown', message: 'Kubelet stopped posting node status.', lastHeartbeatTime: this.clock.iso(), lastTransitionTime: this.clock.iso() };
  }

  /** What the kubelet writes: container statuses under the names of the spec, and the pod conditions they imply. */
  private setContainers(pod: Obj, phase: string, state: (container: Obj) => Obj, ready = false): void {
    const now = this.clock.iso();
    const names: string[] = (pod.spec.containers ?? []).map((c: Obj) => c.name);
    const condition = (type: string, ok: boolean, reason?: string) => ({
      type,
      status: ok ? 'True' : 'False',
      lastProbeTime: null,
      lastTransitionTime: now,
      ...(ok || !reason ? {} : { reason, message: `containers with unready status: [${names.join(' ')}]` }),
    });
    const terminal = phase === 'Succeeded' || phase === 'Failed';
    pod.status = {
      phase,
      qosClass: pod.status?.qosClass,
      hostIP: '10.0.1.2',
      ...(phase === 'Pending' ? {} : { podIP: '10.0.1.50' }),
      startTime: pod.status?.startTime ?? now,
      conditions: [
        { type: 'PodReadyToStartContainers', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        { type: 'Initialized', status: 'True', lastProbeTime: null, lastTransitionTime: now },
        condition('Ready', ready, terminal ? 'PodCompleted' : 'ContainersNotReady'),
        condition('ContainersReady', ready, terminal ? 'PodCompleted' : 'ContainersNotReady'),
        { type: 'PodScheduled', status: 'True', lastProbeTime: null, lastTransitionTime: now },
      ],
      containerStatuses: (pod.spec.containers ?? []).map((c: Obj) => {
        const s = state(c);
        const { name: _ignored, ...containerState } = s;
        return {
          name: c.name,
          image: c.image,
          imageID: containerState.waiting ? '' : `${c.image}@sha256:0123`,
          ...(containerState.waiting ? {} : { containerID: `containerd://${pod.metadata.name}-${c.name}` }),
          ready,
          restartCount: 0,
          started: Boolean(containerState.running),
          state: containerState,
          lastState: {},
        };
      }),
    };
  }

  /** Kubelets on Ready nodes confirm terminations; nothing confirms on a NotReady or deleted node. */
  private kubeletsConfirm(): void {
    const now = this.clock.now();
    for (const [key, pod] of this.store.get('pods') ?? []) {
      if (!pod.metadata.deletionTimestamp) continue;
      const node = this.get('nodes', pod.spec?.nodeName ?? '');
      if (!isReadyNode(node)) continue;
      if (this.slowToStop.has(pod.metadata.name) && now < Date.parse(pod.metadata.deletionTimestamp)) continue;
      this.store.get('pods')?.delete(key);
    }
  }

  private validateCreate(kind: Kind, namespace: string | undefined, body: Obj): void {
    const name: string | undefined = body?.metadata?.name;
    const invalid = (causes: string): never => fail(422, 'Invalid', `${kind.kind} "${name ?? ''}" is invalid: ${causes}`);
    if (body?.kind !== kind.kind || body?.apiVersion !== kind.apiVersion) {
      fail(400, 'BadRequest', `the API version in the data (${body?.apiVersion}) does not match the expected API version (${kind.apiVersion})`);
    }
    if (kind.namespaced && body.metadata?.namespace && body.metadata.namespace !== namespace) {
      fail(400, 'BadRequest', 'the namespace of the provided object does not match the namespace sent on the request');
    }
    if (!name) invalid('metadata.name: Required value: name or generateName is required');
    const nameRule = kind.resource === 'services' ? DNS1123_LABEL : DNS1123_SUBDOMAIN;
    if (!nameRule.test(name as string) || (name as string).length > (kind.resource === 'services' ? 63 : 253)) {
      invalid(`metadata.name: Invalid value: "${name}"`);
    }
    for (const [key, value] of Object.entries<string>(body.metadata?.labels ?? {})) {
      if (!LABEL_KEY.test(key)) invalid(`metadata.labels: Invalid value: "${key}"`);
      if (value.length > 63 || !LABEL_VALUE.test(value)) invalid(`metadata.labels: Invalid value: "${value}"`);
    }
    try {
      kind.validate?.(body);
    } catch (error) {
      invalid((error as Error).message);
    }
  }

  private create(kind: Kind, namespace: string | undefined, body: Obj): Obj {
    this.validateCreate(kind, namespace, body);
    const name: string = body.metadata.name;
    const key = this.key(kind.resource, namespace, name);
    const existing = this.store.get(kind.resource)?.get(key);
    if (existing) {
      const message = `${kind.resource} "${name}" already exists`;
      fail(409, 'AlreadyExists', existing.metadata.deletionTimestamp ? `object is being deleted: ${message}` : message, {
        name,
        kind: kind.resource,
      });
    }
    const object = this.stamp(kind.resource, clone(body));
    object.metadata.namespace = kind.namespaced ? namespace : undefined;
    if (kind.resource === 'pods') {
      object.spec = { restartPolicy: 'Always', terminationGracePeriodSeconds: 30, dnsPolicy: 'ClusterFirst', schedulerName: 'default-scheduler', ...object.spec };
      object.status = { phase: 'Pending', qosClass: qosClassOf(object) };
    }
    if (kind.resource === 'services') {
      object.spec = { clusterIP: '172.20.10.10', clusterIPs: ['172.20.10.10'], sessionAffinity: 'None', ...object.spec };
      object.status = { loadBalancer: {} };
    }
    this.store.get(kind.resource)?.set(key, object);
    return object;
  }

  private read(kind: Kind, namespace: string | undefined, name: string): Obj {
    return this.store.get(kind.resource)?.get(this.key(kind.resource, namespace, name)) ?? notFound(kind.resource, name);
  }

  private listOf(kind: Kind, namespace: string | undefined, query: URLSearchParams): Obj {
    const labels = parseLabelSelector(query.get('labelSelector') ?? undefined);
    const fields = parseFieldSelector(query.get('fieldSelector') ?? undefined, kind.resource);
    const all = [...(this.store.get(kind.resource)?.values() ?? [])]
      .filter((o) => !kind.namespaced || namespace === undefined || o.metadata.namespace === namespace)
      .filter((o) => labels(o.metadata.labels) && fields(o))
      .sort((a, b) => this.key(kind.resource, a.metadata.namespace, a.metadata.name).localeCompare(this.key(kind.resource, b.metadata.namespace, b.metadata.name)));
    let start = 0;
    const token = query.get('continue');
    if (token) {
      const [epoch, offset] = Buffer.from(token, 'base64').toString().split(':').map(Number);
      if (epoch !== this.continueEpoch) {
        fail(
          410,
          'Expired',
          'The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.',
        );
      }
      start = offset;
    }
    const limit = Number(query.get('limit') ?? 0);
    const page = limit > 0 ? all.slice(start, start + limit) : all.slice(start);
    const next = limit > 0 && start + limit < all.length ? Buffer.from(`${this.continueEpoch}:${start + limit}`).toString('base64') : undefined;
    // Items of a typed list carry neither kind nor apiVersion.
    const items = page.map(({ kind: _k, apiVersion: _v, ...rest }) => rest);
    return {
      kind: `${kind.kind}List`,
      apiVersion: kind.apiVersion,
      metadata: { resourceVersion: String(this.revision), ...(next ? { continue: next, remainingItemCount: all.length - start - limit } : {}) },
      items,
    };
  }

  private deleteCollection(kind: Kind, namespace: string | undefined, query: URLSearchParams): Obj {
    const list = this.listOf(kind, namespace, new URLSearchParams({ labelSelector: query.get('labelSelector') ?? '', fieldSelector: query.get('fieldSelector') ?? '' }));
    const deleted = list.items.map((item: Obj) => this.removeOrMark(kind, namespace, item.metadata.name, query, undefined));
    return { ...list, items: deleted };
  }

  private delete(kind: Kind, namespace: string | undefined, name: string, query: URLSearchParams, body: Obj | undefined): [number, Obj] {
    const object = this.removeOrMark(kind, namespace, name, query, body);
    if (kind.resource === 'pods') return [200, object];
    return [200, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', details: { name, kind: kind.resource, uid: object.metadata.uid } }];
  }

  /** Pods terminate gracefully (deletionTimestamp) unless unscheduled, finished or the grace is 0; the rest go at once. */
  private removeOrMark(kind: Kind, namespace: string | undefined, name: string, query: URLSearchParams, body: Obj | undefined): Obj {
    const key = this.key(kind.resource, namespace, name);
    const object = this.read(kind, namespace, name);
    const uid = body?.preconditions?.uid;
    if (uid && uid !== object.metadata.uid) {
      fail(409, 'Conflict', `Operation cannot be fulfilled on ${kind.resource} "${name}": Precondition failed: UID in precondition: ${uid}, UID in object meta: ${object.metadata.uid}`, { name, kind: kind.resource });
    }
    if (kind.resource !== 'pods') {
      this.store.get(kind.resource)?.delete(key);
      return object;
    }
    const requested = query.get('gracePeriodSeconds') ?? body?.gracePeriodSeconds;
    let grace = requested === undefined || requested === null ? (object.spec.terminationGracePeriodSeconds ?? 30) : Number(requested);
    if (!object.spec.nodeName || ['Succeeded', 'Failed'].includes(object.status?.phase)) grace = 0;
    if (grace === 0) {
      this.store.get('pods')?.delete(key);
      return object;
    }
    const deadline = this.clock.now() + grace * 1000;
    const current = object.metadata.deletionTimestamp ? Date.parse(object.metadata.deletionTimestamp) : Infinity;
    if (deadline < current) {
      object.metadata.deletionTimestamp = new Date(deadline).toISOString().replace(/\.\d{3}Z$/, 'Z');
      object.metadata.deletionGracePeriodSeconds = grace;
      object.metadata.resourceVersion = String(++this.revision);
    }
    return object;
  }

  private patch(kind: Kind, namespace: string | undefined, name: string, body: unknown, headers: RecordedRequest['headers']): Obj {
    const type = String(headers['content-type'] ?? '').split(';')[0].trim();
    const accepted = ['application/json-patch+json', 'application/merge-patch+json', 'application/strategic-merge-patch+json', 'application/apply-patch+yaml'];
    if (!accepted.includes(type)) {
      fail(415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`);
    }
    if (type === 'application/json-patch+json' && !Array.isArray(body)) {
      fail(400, 'BadRequest', 'json: cannot unmarshal object into Go value of type jsonpatch.Patch');
    }
    if (type !== 'application/merge-patch+json') throw new Error(`the test double implements merge patches only, not ${type}`);
    const key = this.key(kind.resource, namespace, name);
    const object = this.read(kind, namespace, name);
    const patched = mergePatch(object, body) as Obj;
    patched.metadata = { ...patched.metadata, uid: object.metadata.uid, name, resourceVersion: String(++this.revision) };
    this.store.get(kind.resource)?.set(key, patched);
    return patched;
  }

  /** pkg/registry/core/pod/storage/eviction.go, as far as a drain meets it. */
  private evict(namespace: string | undefined, name: string, body: Obj): [number, Obj] {
    if (body?.metadata?.name !== name) fail(400, 'BadRequest', 'name in URL does not match name in Eviction object');
    const pod = this.read(KINDS.pods, namespace, name);
    const success: [number, Obj] = [201, { kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Success', code: 201 }];
    const ignoresBudgets = ['Succeeded', 'Failed', 'Pending'].includes(pod.status?.phase) || pod.metadata.deletionTimestamp;
    if (!ignoresBudgets) {
      const budgets = this.list('poddisruptionbudgets').filter(
        (b) => b.metadata.namespace === namespace && labelSelectorObject(b.spec?.selector ?? {})(pod.metadata.labels),
      );
      if (budgets.length > 1) {
        // The handler returns this Status as its result, without a reason.
        return [500, status(500, undefined, 'This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.')];
      }
      const budget = budgets[0];
      if (budget && isPodReady(pod)) {
        if ((budget.status?.disruptionsAllowed ?? 0) <= 0) {
          fail(429, 'TooManyRequests', "Cannot evict pod as it would violate the pod's disruption budget.", {
            causes: [
              {
                reason: 'DisruptionBudget',
                message: `The disruption budget ${budget.metadata.name} needs ${budget.status?.desiredHealthy ?? 0} healthy pods and has ${budget.status?.currentHealthy ?? 0} currently`,
              },
            ],
          });
        }
        budget.status.disruptionsAllowed--;
      }
    }
    pod.status = {
      ...pod.status,
      conditions: [
        ...(pod.status?.conditions ?? []),
        { type: 'DisruptionTarget', status: 'True', lastProbeTime: null, lastTransitionTime: this.clock.iso(), reason: 'EvictionByEvictionAPI', message: 'Eviction API: evicting' },
      ],
    };
    this.removeOrMark(KINDS.pods, namespace, name, new URLSearchParams(), body.deleteOptions);
    return success;
  }

  /** The kubelet's answers (pkg/kubelet/kubelet_pods.go validateContainerLogStatus), through the API server. */
  private podLog(namespace: string | undefined, name: string, query: URLSearchParams): [number, unknown, string] {
    const pod = this.read(KINDS.pods, namespace, name);
    const containers: string[] = (pod.spec.containers ?? []).map((c: Obj) => c.name);
    const container = query.get('container') ?? (containers.length === 1 ? containers[0] : undefined);
    if (!container) {
      fail(400, 'BadRequest', `a container name must be specified for pod ${name}, choose one of: [${containers.join(' ')}]`);
    }
    if (!containers.includes(container as string)) fail(400, 'BadRequest', `container ${container} is not valid for pod ${name}`);
    // An unscheduled pod has no kubelet to ask: the server streams nothing.
    if (!pod.spec.nodeName) return [200, '', 'text/plain'];
    const state = (pod.status?.containerStatuses ?? []).find((c: Obj) => c.name === container)?.state;
    if (!state || state.waiting) {
      const reason = state?.waiting?.reason ?? 'ContainerCreating';
      const why =
        reason === 'ErrImagePull' ? "image can't be pulled" : reason === 'ImagePullBackOff' ? 'trying and failing to pull image' : reason;
      fail(400, 'BadRequest', `container "${container}" in pod "${name}" is waiting to start: ${why}`);
    }
    const text = this.logs.get(name) ?? '';
    const tail = query.get('tailLines');
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    const kept = tail === null ? lines : lines.slice(-Number(tail));
    return [200, kept.map((l) => `${l}\n`).join(''), 'text/plain'];
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return text;
  }
}

function qosClassOf(pod: Obj): string {
  const containers: Obj[] = pod.spec?.containers ?? [];
  const resources = containers.map((c) => c.resources ?? {});
  if (resources.every((r) => !r.requests && !r.limits)) return 'BestEffort';
  const guaranteed = resources.every(
    (r) => r.limits?.cpu && r.limits?.memory && (!r.requests || (r.requests.cpu === r.limits.cpu && r.requests.memory === r.limits.memory)),
  );
  return guaranteed ? 'Guaranteed' : 'Burstable';
}

/** Every interceptor answered and nothing is left behind for the next test. */
export function resetFakeApi(): void {
  nock.abortPendingRequests();
  nock.cleanAll();
}
