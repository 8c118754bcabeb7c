import nock from 'nock';
import { waitFor } from '@simdeploy/testing';
import { KubernetesPodRuntime, ProviderError } from '../../src';
import { FAKE_SERVER, FakeCluster, kubeConfigFor, resetFakeApi, status } from './fake-kubernetes-api';
import type { Obj } from './fake-kubernetes-api';
import { DEPLOYMENT, ID, NS, POLICIES, PODS, ROBOT_NODE, SERVICES, SIM_NODE, launched, nodes, plan, request, setup, useFakeApi } from './fixtures';

useFakeApi();

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
describe('createWorkload', () => {
  it('creates the network policies, then the pods, then the service, all labelled for the deployment', async () => {
    const { cluster, runtime } = setup();
    const api = cluster;

    await runtime.createWorkload(request);

    const kinds = api.requests.map((r) => (r.body as { kind: string }).kind);
    expect(kinds).toEqual(['NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy', 'NetworkPolicy', 'Pod', 'Pod', 'Pod', 'Service']);
    expect(api.requests.every((r) => r.headers.authorization === 'Bearer test-token')).toBe(true);

    // The rules inside the policies are specified in kubernetes-manifests.spec.ts.
    const policies = new Map(api.requests.slice(0, 4).map((r) => [(r.body as { metadata: { name: string } }).metadata.name, r.body as Obj]));
    expect([...policies.keys()].sort()).toEqual(['sim-d1-bridge-0', 'sim-d1-default-deny', 'sim-d1-gzserver', 'sim-d1-robot-0']);
    expect(policies.get('sim-d1-gzserver')?.metadata.labels).toEqual(labelsOf('simulator'));
    expect(policies.get('sim-d1-bridge-0')).toMatchObject({ metadata: { labels: labelsOf('bridge', '0') }, spec: selects('bridge', '0') });
    expect(policies.get('sim-d1-robot-0')).toMatchObject({ metadata: { labels: labelsOf('robot', '0') }, spec: selects('robot', '0') });

    const pods = new Map(api.requests.slice(4, 7).map((r) => [(r.body as { metadata: { name: string } }).metadata.name, r.body]));
    expect(pods.get('sim-d1-gzserver')).toMatchObject({
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

  it('creates nothing twice: a second call after a crash meets its own objects and succeeds', async () => {
    const { cluster, runtime } = setup();
    await runtime.createWorkload(request);
    await expect(runtime.createWorkload(request)).resolves.toBeUndefined();
    expect(cluster.list('pods')).toHaveLength(3);
    expect(cluster.list('networkpolicies')).toHaveLength(4);
    expect(cluster.list('services')).toHaveLength(1);
  });

  it('stops with a permanent error carrying the API message when forbidden, before any pod exists', async () => {
    const { cluster, runtime } = setup();
    const forbidden = status(403, 'Forbidden', 'networkpolicies.networking.k8s.io is forbidden: User "launcher" cannot create');
    cluster.failNext('POST', /networkpolicies$/, 403, forbidden, 4);

    const error = await runtime.createWorkload(request).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'Forbidden', transient: false });
    expect((error as Error).message).toContain('User "launcher" cannot create');
    expect(cluster.calls().every((c) => c.startsWith(`POST ${POLICIES}`))).toBe(true);
    expect(cluster.list('pods')).toEqual([]);
  });

  it('refuses a plan whose pods have no node to run on, without calling the API', async () => {
    const { cluster, runtime } = setup();
    const error = await runtime.createWorkload({ ...request, nodes: nodes.filter((n) => n.role === 'simulator') }).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'NoNodeForPods', transient: false });
    expect(cluster.calls()).toEqual([]);
  });
});

describe('checkWorkload', () => {
  it('is ready when every planned pod runs and is Ready', async () => {
    const { cluster, runtime } = await launched();
    for (const pod of plan.pods) cluster.run(pod.name);
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toEqual({ state: 'ready' });
    expect(cluster.calls()).toContain(`GET ${PODS}?labelSelector=${DEPLOYMENT}`);
  });

  it('counts only its own deployment\'s pods (the list is selected by label)', async () => {
    const { cluster, runtime } = await launched();
    for (const pod of plan.pods) cluster.run(pod.name);
    // Another deployment's pod that happens to carry a planned name cannot make this one ready.
    await expect(runtime.checkWorkload('d2', plan.pods)).resolves.toMatchObject({ state: 'pending' });
    expect(cluster.calls()).toContain(`GET ${PODS}?labelSelector=simdeploy.io/deployment-id=d2`);
  });

  it('is pending while a pod is missing or not yet Ready', async () => {
    const { cluster, runtime } = setup();
    await runtime.createWorkload(request);
    cluster.schedule('sim-d1-gzserver', SIM_NODE);
    cluster.schedule('sim-d1-bridge-0', ROBOT_NODE);
    cluster.run('sim-d1-gzserver', { ready: false });
    cluster.run('sim-d1-bridge-0');
    // Someone deleted the robot pod before the scheduler bound it.
    await fetchDelete(cluster, 'sim-d1-robot-0');
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'pending',
      detail: 'waiting for pods: sim-d1-gzserver (Running), sim-d1-robot-0 (missing)',
    });
  });

  it('fails when a container exited, and still answers when its logs cannot be read', async () => {
    const { cluster, runtime } = await launched();
    cluster.terminate('sim-d1-gzserver', { exitCode: 137, reason: 'OOMKilled' });
    cluster.failNext('GET', /\/pods\/sim-d1-gzserver\/log/, 500, status(500, 'InternalError', 'kubelet unreachable'));

    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'OOMKilled', transient: false },
      logs: [],
    });
  });
});

/** Deletes one pod at once through the API, as `kubectl delete --grace-period=0` would. */
async function fetchDelete(cluster: FakeCluster, name: string): Promise<void> {
  const { CoreV1Api } = await import('@kubernetes/client-node');
  await kubeConfigFor(FAKE_SERVER).makeApiClient(CoreV1Api).deleteNamespacedPod({ name, namespace: NS, gracePeriodSeconds: 0 });
  expect(cluster.get('pods', name)).toBeUndefined();
}

describe('deleteWorkload', () => {
  it('deletes pods, then services, then the network policies once no pod is left, and reports gone', async () => {
    const { cluster, runtime } = await launched();
    for (const pod of plan.pods) cluster.run(pod.name);

    await expect(runtime.deleteWorkload(ID)).resolves.toMatchObject({ gone: true });

    const calls = cluster.calls().filter((c) => !c.startsWith('POST'));
    expect(calls.slice(0, 5)).toEqual([
      `DELETE ${PODS}?gracePeriodSeconds=30&labelSelector=${DEPLOYMENT}`,
      `GET ${SERVICES}?labelSelector=${DEPLOYMENT}`,
      `DELETE ${SERVICES}/sim-d1-gzserver`,
      `GET ${PODS}?labelSelector=${DEPLOYMENT}`,
      `DELETE ${POLICIES}?labelSelector=${DEPLOYMENT}`,
    ]);
    expect(cluster.list('pods')).toEqual([]);
    expect(cluster.list('services')).toEqual([]);
    expect(cluster.list('networkpolicies')).toEqual([]);
  });

  it('keeps the network policies while pods are still terminating', async () => {
    const { cluster, runtime } = await launched();
    for (const pod of plan.pods) cluster.run(pod.name);
    cluster.slowToTerminate('sim-d1-gzserver');

    await expect(runtime.deleteWorkload(ID)).resolves.toMatchObject({ gone: false });
    expect(cluster.get('pods', 'sim-d1-gzserver')?.metadata.deletionTimestamp).toBeDefined();
    expect(cluster.list('networkpolicies')).toHaveLength(4);
  });
});

describe('checkNodesJoined', () => {
  it('is ready when every expected node has joined and is Ready', async () => {
    const { runtime } = setup();
    await expect(runtime.checkNodesJoined(ID, [SIM_NODE, ROBOT_NODE])).resolves.toEqual({ state: 'ready' });
  });

  it('is pending while a node has not joined', async () => {
    const cluster = new FakeCluster();
    cluster.addNode(SIM_NODE, { labels: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/node-role': 'simulator' } });
    const runtime = new KubernetesPodRuntime({ kubeConfig: kubeConfigFor(FAKE_SERVER), controlPlaneCidr: '10.0.0.0/24' });
    await expect(runtime.checkNodesJoined(ID, [SIM_NODE, ROBOT_NODE])).resolves.toMatchObject({
      state: 'pending',
      detail: `waiting for nodes to join: ${ROBOT_NODE}`,
    });
  });

  it('is pending while a node is not Ready or still cordoned', async () => {
    const cluster = new FakeCluster();
    cluster.addNode(SIM_NODE, { ready: false, labels: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/node-role': 'simulator' } });
    cluster.addNode(ROBOT_NODE, { unschedulable: true, labels: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/node-role': 'robots' } });
    const runtime = new KubernetesPodRuntime({ kubeConfig: kubeConfigFor(FAKE_SERVER), controlPlaneCidr: '10.0.0.0/24' });
    await expect(runtime.checkNodesJoined(ID, [SIM_NODE, ROBOT_NODE])).resolves.toMatchObject({
      state: 'pending',
      detail: `nodes not ready or not schedulable: ${SIM_NODE}, ${ROBOT_NODE}`,
    });
  });
});

describe('deleteNodes', () => {
  /** The deployment's robot pod is gone already; a DaemonSet pod, a mirror pod and someone's job remain on the node. */
  function withForeignPods(context: ReturnType<typeof setup>) {
    const { cluster } = context;
    const onNode = (name: string, namespace: string, metadata: Obj = {}) =>
      cluster.put('pods', {
        metadata: { name, namespace, labels: { app: name }, ...metadata },
        spec: { nodeName: ROBOT_NODE, containers: [{ name: 'main', image: 'x' }] },
        status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
      });
    onNode('cni-x7', 'kube-system', { ownerReferences: [{ kind: 'DaemonSet', name: 'cni', apiVersion: 'apps/v1', uid: 'u' }] });
    onNode(`kube-proxy-${ROBOT_NODE}`, 'kube-system', { annotations: { 'kubernetes.io/config.mirror': 'abc' } });
    onNode('batch-job', 'team-a');
    return context;
  }

  it('cordons with a merge patch, evicts all but DaemonSet and mirror pods, then deletes the node', async () => {
    const { cluster, runtime } = withForeignPods(setup());

    await expect(runtime.deleteNodes(ID, [ROBOT_NODE, SIM_NODE])).resolves.toMatchObject({ gone: true });

    const cordon = cluster.requests.find((r) => r.method === 'PATCH' && r.path === `/api/v1/nodes/${ROBOT_NODE}`);
    expect(cordon?.headers['content-type']).toBe('application/merge-patch+json');
    expect(cordon?.body).toMatchObject({ spec: { unschedulable: true } });
    expect(cluster.bodyOf('POST', `/api/v1/namespaces/team-a/pods/batch-job/eviction`)).toEqual({
      apiVersion: 'policy/v1',
      kind: 'Eviction',
      metadata: { name: 'batch-job', namespace: 'team-a' },
    });
    expect(cluster.calls().filter((c) => c.includes('/eviction'))).toEqual(['POST /api/v1/namespaces/team-a/pods/batch-job/eviction']);
    expect(cluster.list('nodes')).toEqual([]);
  });

  it('counts a node that no longer exists as deleted', async () => {
    const cluster = new FakeCluster();
    const runtime = new KubernetesPodRuntime({ kubeConfig: kubeConfigFor(FAKE_SERVER), controlPlaneCidr: '10.0.0.0/24' });
    await expect(runtime.deleteNodes(ID, [ROBOT_NODE])).resolves.toMatchObject({ gone: true });
    expect(cluster.calls().some((c) => c.startsWith('DELETE'))).toBe(false);
  });

  it('fails permanently with the API message when forbidden (403)', async () => {
    const { cluster, runtime } = setup();
    cluster.failNext('GET', /^\/api\/v1\/nodes(\?|$)/, 403, status(403, 'Forbidden', 'nodes is forbidden: User "terminator" cannot list resource "nodes"'));

    const error = await runtime.deleteNodes(ID, [ROBOT_NODE]).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'Forbidden', transient: false });
    expect((error as Error).message).toBe('list nodes: nodes is forbidden: User "terminator" cannot list resource "nodes"');
  });
});

describe('listManagedWorkloads', () => {
  it('groups everything carrying the control-plane label by deployment, following list pages', async () => {
    const { cluster, runtime } = setup();
    const labelled = (name: string, deploymentId: string) => ({
      metadata: { name, namespace: NS, labels: { 'simdeploy.io/deployment-id': deploymentId, 'simdeploy.io/managed-by': 'simdeploy' } },
      spec: {},
    });
    for (let i = 0; i < 501; i++) cluster.put('pods', labelled(`sim-a-robot-${i}`, 'a'));
    cluster.put('pods', labelled('sim-b-gzserver', 'b'));
    cluster.put('pods', { metadata: { name: 'unmanaged', namespace: NS, labels: {} }, spec: {} });
    cluster.put('services', labelled('sim-a-gzserver', 'a'));
    cluster.put('networkpolicies', labelled('sim-c-default-deny', 'c'));

    const workloads = await runtime.listManagedWorkloads();

    const byId = new Map(workloads.map((w) => [w.deploymentId, w.pods]));
    expect(byId.get('a')).toHaveLength(501);
    expect(byId.get('b')).toEqual(['sim-b-gzserver']);
    expect(byId.get('c')).toEqual([]);
    expect(byId.size).toBe(3);
    expect(cluster.calls().filter((c) => c.startsWith(`GET ${PODS}`))).toHaveLength(2);
  });
});

describe('abort signal', () => {
  it('makes no call once the caller has given up', async () => {
    const { cluster, runtime } = setup();
    const controller = new AbortController();
    controller.abort();
    await expect(runtime.checkWorkload(ID, plan.pods, controller.signal)).rejects.toMatchObject({
      code: 'AbortError',
      transient: true,
    });
    expect(cluster.calls()).toEqual([]);
  });

  it('cancels a call in flight', async () => {
    resetFakeApi();
    const scope = nock(FAKE_SERVER).get(PODS).query(true).delay(60_000).reply(200, { metadata: {}, items: [] });
    const runtime = new KubernetesPodRuntime({ kubeConfig: kubeConfigFor(FAKE_SERVER), controlPlaneCidr: '10.0.0.0/24' });
    const controller = new AbortController();
    let reached = false;
    scope.on('request', () => {
      reached = true;
    });
    const check = runtime.checkWorkload(ID, plan.pods, controller.signal);
    await waitFor(() => reached, { description: 'the list request reached the fake server' });
    controller.abort();
    await expect(check).rejects.toMatchObject({ code: 'AbortError', transient: true });
  });
});
