import { planWorkload } from '@simdeploy/domain';
import type { NodeRecord, SimulationSpec } from '@simdeploy/domain';
import nock from 'nock';
import { waitFor } from '@simdeploy/testing';
import { KubernetesPodRuntime, ProviderError } from '../../src';
import type { WorkloadRequest } from '../../src';
import { FAKE_SERVER, JSON_HEADERS, fakeKubernetesApi, kubeConfigFor, status } from './fake-kubernetes-api';

const NS = 'simdeploy';
const ID = 'd1';
const DEPLOYMENT = 'simdeploy.io/deployment-id=d1';
const POLICIES = `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`;
const PODS = `/api/v1/namespaces/${NS}/pods`;
const SERVICES = `/api/v1/namespaces/${NS}/services`;

const spec: SimulationSpec = {
  world: 'warehouse',
  simulatorImage: 'registry.test/gzserver:11',
  robots: [{ name: 'scout', image: 'registry.test/scout:2' }],
  nodeInstanceType: 'm5.large',
  labels: {},
};
const plan = planWorkload(ID, spec);
const nodes: NodeRecord[] = [
  { role: 'simulator', index: 0, clientToken: 't0', instanceType: 'm5.large', instanceId: 'i-1', nodeName: 'ip-10-0-1-1' },
  { role: 'robots', index: 0, clientToken: 't1', instanceType: 'm5.large', instanceId: 'i-2', nodeName: 'ip-10-0-1-2' },
];
const request: WorkloadRequest = { deploymentId: ID, owner: 'alice@example.com', spec, plan, nodes };

const runtime = () =>
  new KubernetesPodRuntime({ kubeConfig: kubeConfigFor(FAKE_SERVER), controlPlaneCidr: '10.0.0.0/24' });

const echo = (_uri: string, body: unknown) => body as Record<string, unknown>;

/** What the API server says about a pod: phase, readiness and its container's state. */
function podStatus(name: string, phase: string, ready: boolean, state: object = { running: {} }) {
  return {
    metadata: { name, namespace: NS, labels: { 'simdeploy.io/deployment-id': ID } },
    status: {
      phase,
      conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }],
      containerStatuses: [{ name: 'main', ready, restartCount: 0, image: 'x', imageID: '', state }],
    },
  };
}

const listOf = (items: object[]) => ({ metadata: {}, items });

beforeAll(() => {
  nock.disableNetConnect();
  nock.enableNetConnect('127.0.0.1');
});
afterEach(() => {
  const pending = nock.pendingMocks();
  nock.abortPendingRequests();
  nock.cleanAll();
  expect(pending).toEqual([]);
});
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

const labelsOf = (role: string, robotIndex?: string) => ({
  'simdeploy.io/deployment-id': ID,
  'simdeploy.io/managed-by': 'simdeploy',
  'simdeploy.io/pod-role': role,
  ...(robotIndex === undefined ? {} : { 'simdeploy.io/robot-index': robotIndex }),
});
const selects = (role: string, robotIndex?: string) => ({
  podSelector: {
    matchLabels: {
      'simdeploy.io/deployment-id': ID,
      'simdeploy.io/pod-role': role,
      ...(robotIndex === undefined ? {} : { 'simdeploy.io/robot-index': robotIndex }),
    },
  },
});
const DNS = {
  to: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'kube-system' } } }],
  ports: [
    { protocol: 'UDP', port: 53 },
    { protocol: 'TCP', port: 53 },
  ],
};

describe('createWorkload', () => {
  it('creates the network policies, then the pods, then the service, all labelled for the deployment', async () => {
    const api = fakeKubernetesApi();
    api.scope.post(POLICIES).times(4).reply(201, echo).post(PODS).times(3).reply(201, echo).post(SERVICES).reply(201, echo);

    await runtime().createWorkload(request);

    const kinds = api.requests.map((r) => (r.body as { kind: string }).kind);
    expect(kinds).toEqual(['NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy', 'Pod', 'Pod', 'Pod', 'Service']);
    expect(api.requests.every((r) => r.headers.authorization === 'Bearer test-token')).toBe(true);

    const policies = new Map(api.requests.slice(0, 4).map((r) => [(r.body as { metadata: { name: string } }).metadata.name, r.body]));
    expect(policies.get('sim-d1-default-deny')).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'sim-d1-default-deny', namespace: NS, labels: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/managed-by': 'simdeploy' } },
      spec: { podSelector: { matchLabels: { 'simdeploy.io/deployment-id': ID } }, policyTypes: ['Ingress', 'Egress'] },
    });
    expect(policies.get('sim-d1-gzserver')).toEqual({
      apiVersion: 'networking.k8s.io/v1',
      kind: 'NetworkPolicy',
      metadata: { name: 'sim-d1-gzserver', namespace: NS, labels: labelsOf('simulator') },
      spec: {
        ...selects('simulator'),
        policyTypes: ['Ingress', 'Egress'],
        ingress: [{ from: [selects('bridge'), { ipBlock: { cidr: '10.0.0.0/24' } }] }],
        egress: [DNS, {}],
      },
    });
    expect(policies.get('sim-d1-bridge-0')).toMatchObject({
      metadata: { labels: labelsOf('bridge', '0') },
      spec: {
        ...selects('bridge', '0'),
        ingress: [{ from: [selects('simulator'), selects('robot', '0')] }],
        egress: [DNS, { to: [selects('simulator'), selects('robot', '0')] }],
      },
    });
    expect(policies.get('sim-d1-robot-0')).toMatchObject({
      metadata: { labels: labelsOf('robot', '0') },
      spec: { ...selects('robot', '0'), ingress: [{ from: [selects('bridge', '0')] }], egress: [DNS, { to: [selects('bridge', '0')] }] },
    });

    const pods = new Map(api.requests.slice(4, 7).map((r) => [(r.body as { metadata: { name: string } }).metadata.name, r.body]));
    expect(pods.get('sim-d1-gzserver')).toEqual({
      apiVersion: 'v1',
      kind: 'Pod',
      metadata: {
        name: 'sim-d1-gzserver',
        namespace: NS,
        labels: labelsOf('simulator'),
        annotations: { 'simdeploy.io/owner': 'alice@example.com' },
      },
      spec: {
        restartPolicy: 'Never',
        automountServiceAccountToken: false,
        nodeSelector: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/node-role': 'simulator' },
        tolerations: [{ key: 'simdeploy.io/deployment-id', operator: 'Equal', value: ID, effect: 'NoSchedule' }],
        containers: [
          {
            name: 'simulator',
            image: 'registry.test/gzserver:11',
            env: [
              { name: 'SIMDEPLOY_DEPLOYMENT_ID', value: ID },
              { name: 'WORLD', value: 'warehouse' },
            ],
            ports: [{ name: 'simulator', containerPort: 11345, protocol: 'TCP' }],
            readinessProbe: { tcpSocket: { port: 11345 }, periodSeconds: 5, failureThreshold: 3 },
          },
        ],
      },
    });
    expect(pods.get('sim-d1-robot-0')).toMatchObject({
      metadata: { labels: labelsOf('robot', '0') },
      spec: {
        nodeSelector: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/node-role': 'robots' },
        containers: [
          {
            name: 'robot',
            image: 'registry.test/scout:2',
            env: [
              { name: 'SIMDEPLOY_DEPLOYMENT_ID', value: ID },
              { name: 'WORLD', value: 'warehouse' },
              { name: 'ROBOT_NAME', value: 'scout' },
            ],
          },
        ],
      },
    });
    expect(pods.get('sim-d1-bridge-0')).toMatchObject({
      metadata: { labels: labelsOf('bridge', '0') },
      spec: {
        nodeSelector: { 'simdeploy.io/node-role': 'robots' },
        containers: [{ env: expect.arrayContaining([{ name: 'SIMULATOR_ADDRESS', value: 'sim-d1-gzserver:11345' }]) }],
      },
    });
    expect((pods.get('sim-d1-robot-0') as { spec: { containers: object[] } }).spec.containers[0]).not.toHaveProperty('readinessProbe');

    expect(api.requests[7].body).toEqual({
      apiVersion: 'v1',
      kind: 'Service',
      metadata: {
        name: 'sim-d1-gzserver',
        namespace: NS,
        labels: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/managed-by': 'simdeploy', 'simdeploy.io/pod-role': 'simulator' },
      },
      spec: {
        type: 'ClusterIP',
        selector: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/pod-role': 'simulator' },
        ports: [{ name: 'simulator', port: 11345, targetPort: 11345, protocol: 'TCP' }],
      },
    });
  });

  it('treats objects that already exist (409) as created, so a retry after a crash succeeds', async () => {
    const api = fakeKubernetesApi();
    const exists = status(409, 'AlreadyExists', 'already exists');
    api.scope
      .post(POLICIES).times(4).reply(409, exists, JSON_HEADERS)
      .post(PODS).times(3).reply(409, exists, JSON_HEADERS)
      .post(SERVICES).reply(409, exists, JSON_HEADERS);

    await expect(runtime().createWorkload(request)).resolves.toBeUndefined();
    expect(api.calls()).toHaveLength(8);
  });

  it('stops with a permanent error carrying the API message when forbidden, before any pod exists', async () => {
    const api = fakeKubernetesApi();
    const forbidden = status(403, 'Forbidden', 'networkpolicies.networking.k8s.io is forbidden: User "launcher" cannot create');
    api.scope.post(POLICIES).times(4).reply(403, forbidden, JSON_HEADERS);

    const error = await runtime().createWorkload(request).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'Forbidden', transient: false });
    expect((error as Error).message).toContain('User "launcher" cannot create');
    expect(api.calls().every((c) => c.startsWith(`POST ${POLICIES}`))).toBe(true);
  });

  it('refuses a plan whose pods have no node to run on, without calling the API', async () => {
    fakeKubernetesApi();
    const error = await runtime()
      .createWorkload({ ...request, nodes: nodes.filter((n) => n.role === 'simulator') })
      .catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NoNodeForPods', transient: false });
  });
});

describe('checkWorkload', () => {
  const listPods = (items: object[]) =>
    fakeKubernetesApi().scope.get(PODS).query({ labelSelector: DEPLOYMENT }).reply(200, listOf(items), JSON_HEADERS);

  it('is ready when every planned pod runs and is Ready', async () => {
    listPods(plan.pods.map((p) => podStatus(p.name, 'Running', true)));
    await expect(runtime().checkWorkload(ID, plan.pods)).resolves.toEqual({ state: 'ready' });
  });

  it('is pending while a pod is missing or not yet Ready', async () => {
    listPods([podStatus('sim-d1-gzserver', 'Running', false), podStatus('sim-d1-bridge-0', 'Running', true)]);
    await expect(runtime().checkWorkload(ID, plan.pods)).resolves.toEqual({
      state: 'pending',
      detail: 'waiting for pods: sim-d1-gzserver (Running), sim-d1-robot-0 (missing)',
    });
  });

  it('fails with the waiting reason and the last log lines when an image cannot be pulled', async () => {
    const api = fakeKubernetesApi();
    api.scope
      .get(PODS)
      .query({ labelSelector: DEPLOYMENT })
      .reply(200, listOf([
        podStatus('sim-d1-gzserver', 'Running', true),
        podStatus('sim-d1-robot-0', 'Pending', false, {
          waiting: { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.test/scout:2"' },
        }),
        podStatus('sim-d1-bridge-0', 'Running', true),
      ]), JSON_HEADERS)
      .get(`${PODS}/sim-d1-robot-0/log`)
      .query({ tailLines: '20' })
      .reply(200, 'pulling layer 1\npull failed: unauthorized\n', { 'content-type': 'text/plain' });

    await expect(runtime().checkWorkload(ID, plan.pods)).resolves.toEqual({
      state: 'failed',
      error: {
        code: 'ImagePullBackOff',
        message: 'sim-d1-robot-0: container main ImagePullBackOff: Back-off pulling image "registry.test/scout:2"',
        transient: false,
      },
      logs: ['pulling layer 1', 'pull failed: unauthorized'],
    });
  });

  it('fails when a container exited, and still answers when its logs cannot be read', async () => {
    const api = fakeKubernetesApi();
    api.scope
      .get(PODS)
      .query({ labelSelector: DEPLOYMENT })
      .reply(200, listOf([podStatus('sim-d1-gzserver', 'Failed', false, { terminated: { exitCode: 137, reason: 'OOMKilled' } })]), JSON_HEADERS)
      .get(`${PODS}/sim-d1-gzserver/log`)
      .query(true)
      .reply(400, status(400, 'BadRequest', 'container is terminated'), JSON_HEADERS);

    await expect(runtime().checkWorkload(ID, plan.pods)).resolves.toEqual({
      state: 'failed',
      error: { code: 'OOMKilled', message: 'sim-d1-gzserver: container main exited with code 137', transient: false },
      logs: [],
    });
  });
});

describe('deleteWorkload', () => {
  it('deletes pods, then services, then the network policies once no pod is left, and reports gone', async () => {
    const api = fakeKubernetesApi();
    api.scope
      .delete(PODS).query({ labelSelector: DEPLOYMENT, gracePeriodSeconds: '30' }).reply(200, { kind: 'Status', status: 'Success' }, JSON_HEADERS)
      .get(SERVICES).query({ labelSelector: DEPLOYMENT }).reply(200, listOf([{ metadata: { name: 'sim-d1-gzserver' } }]), JSON_HEADERS)
      .delete(`${SERVICES}/sim-d1-gzserver`).reply(200, { kind: 'Status', status: 'Success' }, JSON_HEADERS)
      .get(PODS).query({ labelSelector: DEPLOYMENT }).reply(200, listOf([]), JSON_HEADERS)
      .delete(POLICIES).query({ labelSelector: DEPLOYMENT }).reply(200, { kind: 'Status', status: 'Success' }, JSON_HEADERS)
      .get(SERVICES).query({ labelSelector: DEPLOYMENT }).reply(200, listOf([]), JSON_HEADERS)
      .get(POLICIES).query({ labelSelector: DEPLOYMENT }).reply(200, listOf([]), JSON_HEADERS);

    await expect(runtime().deleteWorkload(ID)).resolves.toEqual({ gone: true });

    const calls = api.calls();
    expect(calls.slice(0, 5)).toEqual([
      `DELETE ${PODS}?gracePeriodSeconds=30&labelSelector=${DEPLOYMENT}`,
      `GET ${SERVICES}?labelSelector=${DEPLOYMENT}`,
      `DELETE ${SERVICES}/sim-d1-gzserver`,
      `GET ${PODS}?labelSelector=${DEPLOYMENT}`,
      `DELETE ${POLICIES}?labelSelector=${DEPLOYMENT}`,
    ]);
    expect(calls.slice(5).sort()).toEqual([`GET ${SERVICES}?labelSelector=${DEPLOYMENT}`, `GET ${POLICIES}?labelSelector=${DEPLOYMENT}`]);
  });

  it('keeps the network policies while pods are still terminating, and a missing service counts as deleted', async () => {
    const api = fakeKubernetesApi();
    api.scope
      .delete(PODS).query(true).reply(200, { kind: 'Status', status: 'Success' }, JSON_HEADERS)
      .get(SERVICES).query(true).reply(200, listOf([{ metadata: { name: 'sim-d1-gzserver' } }]), JSON_HEADERS)
      .delete(`${SERVICES}/sim-d1-gzserver`).reply(404, status(404, 'NotFound', 'services "sim-d1-gzserver" not found'), JSON_HEADERS)
      .get(PODS).query(true).reply(200, listOf([podStatus('sim-d1-gzserver', 'Running', false)]), JSON_HEADERS);

    await expect(runtime().deleteWorkload(ID)).resolves.toEqual({ gone: false });
    expect(api.calls().some((c) => c.includes('networkpolicies'))).toBe(false);
  });
});

describe('checkNodesJoined', () => {
  const node = (name: string, ready: boolean, unschedulable = false) => ({
    metadata: { name, labels: { 'simdeploy.io/deployment-id': ID } },
    spec: { unschedulable },
    status: { conditions: [{ type: 'Ready', status: ready ? 'True' : 'False' }] },
  });
  const listNodes = (items: object[]) =>
    fakeKubernetesApi().scope.get('/api/v1/nodes').query({ labelSelector: DEPLOYMENT }).reply(200, listOf(items), JSON_HEADERS);

  it('is ready when every expected node has joined and is Ready', async () => {
    listNodes([node('ip-10-0-1-1', true), node('ip-10-0-1-2', true)]);
    await expect(runtime().checkNodesJoined(ID, ['ip-10-0-1-1', 'ip-10-0-1-2'])).resolves.toEqual({ state: 'ready' });
  });

  it('is pending while a node has not joined', async () => {
    listNodes([node('ip-10-0-1-1', true)]);
    await expect(runtime().checkNodesJoined(ID, ['ip-10-0-1-1', 'ip-10-0-1-2'])).resolves.toEqual({
      state: 'pending',
      detail: 'waiting for nodes to join: ip-10-0-1-2',
    });
  });

  it('is pending while a node is not Ready or still cordoned', async () => {
    listNodes([node('ip-10-0-1-1', false), node('ip-10-0-1-2', true, true)]);
    await expect(runtime().checkNodesJoined(ID, ['ip-10-0-1-1', 'ip-10-0-1-2'])).resolves.toEqual({
      state: 'pending',
      detail: 'nodes not ready or not schedulable: ip-10-0-1-1, ip-10-0-1-2',
    });
  });
});

describe('deleteNodes', () => {
  const NODE = 'ip-10-0-1-2';
  const nodePods = [
    { metadata: { name: 'sim-d1-robot-0', namespace: NS } },
    { metadata: { name: 'cni-x7', namespace: 'kube-system', ownerReferences: [{ kind: 'DaemonSet', name: 'cni', apiVersion: 'apps/v1', uid: 'u' }] } },
    { metadata: { name: `kube-proxy-${NODE}`, namespace: 'kube-system', annotations: { 'kubernetes.io/config.mirror': 'abc' } } },
  ];
  const cordonAndList = () => {
    const api = fakeKubernetesApi();
    api.scope
      .get('/api/v1/nodes').query({ labelSelector: DEPLOYMENT }).reply(200, listOf([{ metadata: { name: NODE } }]), JSON_HEADERS)
      .patch(`/api/v1/nodes/${NODE}`).reply(200, { metadata: { name: NODE } }, JSON_HEADERS)
      .get('/api/v1/pods').query({ fieldSelector: `spec.nodeName=${NODE}` }).reply(200, listOf(nodePods), JSON_HEADERS);
    return api;
  };

  it('cordons with a merge patch, evicts all but DaemonSet and mirror pods, then deletes the node', async () => {
    const api = cordonAndList();
    api.scope
      .post(`${PODS}/sim-d1-robot-0/eviction`).reply(201, echo)
      .delete(`/api/v1/nodes/${NODE}`).reply(200, { kind: 'Status', status: 'Success' }, JSON_HEADERS)
      .get('/api/v1/nodes').query({ labelSelector: DEPLOYMENT }).reply(200, listOf([]), JSON_HEADERS);

    await expect(runtime().deleteNodes(ID, [NODE])).resolves.toEqual({ gone: true });

    expect(api.calls()).toEqual([
      `GET /api/v1/nodes?labelSelector=${DEPLOYMENT}`,
      `PATCH /api/v1/nodes/${NODE}`,
      `GET /api/v1/pods?fieldSelector=spec.nodeName=${NODE}`,
      `POST ${PODS}/sim-d1-robot-0/eviction`,
      `DELETE /api/v1/nodes/${NODE}`,
      `GET /api/v1/nodes?labelSelector=${DEPLOYMENT}`,
    ]);
    const cordon = api.requests[1];
    expect(cordon.headers['content-type']).toBe('application/merge-patch+json');
    expect(cordon.body).toEqual({ spec: { unschedulable: true } });
    expect(api.requests[3].body).toEqual({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'sim-d1-robot-0', namespace: NS },
    });
  });

  it('fails transiently and keeps the node when a disruption budget refuses an eviction (429)', async () => {
    const api = cordonAndList();
    api.scope
      .post(`${PODS}/sim-d1-robot-0/eviction`)
      .reply(429, status(429, 'TooManyRequests', 'Cannot evict pod as it would violate the pod\'s disruption budget.'), JSON_HEADERS);

    const error = await runtime().deleteNodes(ID, [NODE]).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'TooManyRequests', transient: true });
    expect((error as Error).message).toContain('disruption budget');
    expect(api.calls().some((c) => c.startsWith('DELETE'))).toBe(false);
  });

  it('counts a node that no longer exists as deleted', async () => {
    const api = fakeKubernetesApi();
    api.scope
      .get('/api/v1/nodes').query(true).reply(200, listOf([]), JSON_HEADERS)
      .patch(`/api/v1/nodes/${NODE}`).reply(404, status(404, 'NotFound', `nodes "${NODE}" not found`), JSON_HEADERS)
      .get('/api/v1/nodes').query(true).reply(200, listOf([]), JSON_HEADERS);

    await expect(runtime().deleteNodes(ID, [NODE])).resolves.toEqual({ gone: true });
  });

  it('fails permanently with the API message when forbidden (403)', async () => {
    const api = fakeKubernetesApi();
    api.scope
      .get('/api/v1/nodes').query(true)
      .reply(403, status(403, 'Forbidden', 'nodes is forbidden: User "terminator" cannot list resource "nodes"'), JSON_HEADERS);

    const error = await runtime().deleteNodes(ID, [NODE]).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'Forbidden', transient: false });
    expect((error as Error).message).toBe('list nodes: nodes is forbidden: User "terminator" cannot list resource "nodes"');
  });
});

describe('listManagedWorkloads', () => {
  it('groups everything carrying the control-plane label by deployment, following list pages', async () => {
    const api = fakeKubernetesApi();
    const managed = 'simdeploy.io/managed-by=simdeploy';
    const labelled = (name: string, deploymentId: string) => ({
      metadata: { name, labels: { 'simdeploy.io/deployment-id': deploymentId, 'simdeploy.io/managed-by': 'simdeploy' } },
    });
    api.scope
      .get(PODS).query({ labelSelector: managed, limit: '500' })
      .reply(200, { metadata: { continue: 'page2' }, items: [labelled('sim-a-robot-0', 'a'), labelled('sim-a-gzserver', 'a')] }, JSON_HEADERS)
      .get(PODS).query({ labelSelector: managed, limit: '500', continue: 'page2' })
      .reply(200, listOf([labelled('sim-b-gzserver', 'b')]), JSON_HEADERS)
      .get(SERVICES).query({ labelSelector: managed, limit: '500' })
      .reply(200, listOf([labelled('sim-a-gzserver', 'a')]), JSON_HEADERS)
      .get(POLICIES).query({ labelSelector: managed, limit: '500' })
      .reply(200, listOf([labelled('sim-c-default-deny', 'c')]), JSON_HEADERS);

    const workloads = await runtime().listManagedWorkloads();

    expect(workloads.sort((x, y) => x.deploymentId.localeCompare(y.deploymentId))).toEqual([
      { deploymentId: 'a', pods: ['sim-a-gzserver', 'sim-a-robot-0'] },
      { deploymentId: 'b', pods: ['sim-b-gzserver'] },
      { deploymentId: 'c', pods: [] },
    ]);
  });
});

describe('abort signal', () => {
  it('makes no call once the caller has given up', async () => {
    const api = fakeKubernetesApi();
    const controller = new AbortController();
    controller.abort();
    await expect(runtime().checkWorkload(ID, plan.pods, controller.signal)).rejects.toMatchObject({
      code: 'AbortError',
      transient: true,
    });
    expect(api.calls()).toEqual([]);
  });

  it('cancels a call in flight', async () => {
    const api = fakeKubernetesApi();
    api.scope.get(PODS).query(true).delay(60_000).reply(200, listOf([]), JSON_HEADERS);
    const controller = new AbortController();
    const check = runtime().checkWorkload(ID, plan.pods, controller.signal);
    await waitFor(() => api.calls().length === 1, { description: 'the list request reached the fake server' });
    controller.abort();
    await expect(check).rejects.toMatchObject({ code: 'AbortError', transient: true });
  });
});
