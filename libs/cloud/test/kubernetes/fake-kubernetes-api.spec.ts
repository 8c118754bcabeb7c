import { ApiException, CoreV1Api, PatchStrategy, setHeaderOptions } from '@kubernetes/client-node';
import nock from 'nock';
import { FAKE_SERVER, FakeCluster, kubeConfigFor, resetFakeApi } from './fake-kubernetes-api';

/** The double itself, through the real client: it must answer as an API server does, or tests prove nothing. */
const NS = 'simdeploy';
const core = () => kubeConfigFor(FAKE_SERVER).makeApiClient(CoreV1Api);
const pod = (name: string, labels: Record<string, string> = {}) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, labels },
  spec: { containers: [{ name: 'robot', image: 'registry.test/scout:2' }] },
});
const refusal = async (promise: Promise<unknown>) => {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiException);
  const { code, body } = error as ApiException<string>;
  return { code, status: JSON.parse(body) as { reason?: string; message: string; details?: object } };
};

beforeAll(() => nock.disableNetConnect());
afterEach(resetFakeApi);
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

describe('the Kubernetes API double', () => {
  it('stamps created objects with uid, resourceVersion and creationTimestamp, and starts pods Pending without container statuses', async () => {
    new FakeCluster();
    const created = await core().createNamespacedPod({ namespace: NS, body: pod('p') });
    expect(created.metadata?.uid).toMatch(/^uid-/);
    expect(created.metadata?.resourceVersion).toMatch(/^\d+$/);
    expect(created.metadata?.creationTimestamp).toBeInstanceOf(Date);
    expect(created.status).toEqual({ phase: 'Pending', qosClass: 'BestEffort' });
  });

  it('evaluates label selectors (equality, set and existence) and field selectors, and refuses unknown fields', async () => {
    const cluster = new FakeCluster();
    cluster.put('pods', { ...pod('a', { 'simdeploy.io/deployment-id': 'd1' }), spec: { ...pod('a').spec, nodeName: 'n1' } });
    cluster.put('pods', pod('b', { 'simdeploy.io/deployment-id': 'd2' }));
    cluster.put('pods', pod('c', {}));
    const names = async (labelSelector?: string, fieldSelector?: string) =>
      (await core().listNamespacedPod({ namespace: NS, labelSelector, fieldSelector })).items.map((p) => p.metadata?.name);

    expect(await names('simdeploy.io/deployment-id=d1')).toEqual(['a']);
    expect(await names('simdeploy.io/deployment-id in (d1,d2)')).toEqual(['a', 'b']);
    expect(await names('simdeploy.io/deployment-id notin (d1)')).toEqual(['b', 'c']);
    expect(await names('!simdeploy.io/deployment-id')).toEqual(['c']);
    expect(await names(undefined, 'spec.nodeName=n1')).toEqual(['a']);
    expect(await refusal(core().listNamespacedPod({ namespace: NS, fieldSelector: 'spec.image=x' }))).toMatchObject({
      code: 400,
      status: { reason: 'BadRequest', message: 'field label not supported: spec.image' },
    });
  });

  it('keeps a gracefully deleted pod with a deletionTimestamp while its node is NotReady, and refuses its name with "object is being deleted"', async () => {
    const cluster = new FakeCluster();
    cluster.addNode('n1', { ready: false });
    await core().createNamespacedPod({ namespace: NS, body: pod('p') });
    cluster.schedule('p', 'n1');
    cluster.run('p');

    const deleted = await core().deleteNamespacedPod({ name: 'p', namespace: NS });
    expect(deleted.metadata?.deletionTimestamp).toBeInstanceOf(Date);
    expect(deleted.metadata?.deletionGracePeriodSeconds).toBe(30);
    cluster.clock.advance(3600);
    expect(cluster.get('pods', 'p')?.metadata.deletionTimestamp).toBeDefined();

    expect(await refusal(core().createNamespacedPod({ namespace: NS, body: pod('p') }))).toMatchObject({
      code: 409,
      status: { reason: 'AlreadyExists', message: 'object is being deleted: pods "p" already exists', details: { name: 'p', kind: 'pods' } },
    });
    await core().deleteNamespacedPod({ name: 'p', namespace: NS, gracePeriodSeconds: 0 });
    expect(cluster.get('pods', 'p')).toBeUndefined();
  });

  it('answers 400 "waiting to start" for the logs of a container waiting on its image, and 200 with the logs of a terminated one', async () => {
    const cluster = new FakeCluster();
    cluster.addNode('n1');
    await core().createNamespacedPod({ namespace: NS, body: pod('p') });
    cluster.schedule('p', 'n1');
    cluster.wait('p', { reason: 'ImagePullBackOff', message: 'Back-off pulling image "registry.test/scout:2"' });
    expect(await refusal(core().readNamespacedPodLog({ name: 'p', namespace: NS }))).toMatchObject({
      code: 400,
      status: { reason: 'BadRequest', message: 'container "robot" in pod "p" is waiting to start: trying and failing to pull image' },
    });

    cluster.terminate('p', { exitCode: 3, reason: 'Error' }, 'loading world\ncannot open display\n');
    await expect(core().readNamespacedPodLog({ name: 'p', namespace: NS, tailLines: 1 })).resolves.toBe('cannot open display\n');
  });

  it('names the containers as the pod spec does, with PodScheduled and ContainersReady conditions', async () => {
    const cluster = new FakeCluster();
    cluster.addNode('n1');
    await core().createNamespacedPod({ namespace: NS, body: pod('p') });
    cluster.schedule('p', 'n1');
    cluster.run('p');
    const read = await core().readNamespacedPod({ name: 'p', namespace: NS });
    expect(read.status?.containerStatuses?.map((c) => c.name)).toEqual(['robot']);
    expect(read.status?.conditions?.map((c) => `${c.type}=${c.status}`)).toEqual(
      expect.arrayContaining(['PodScheduled=True', 'ContainersReady=True', 'Ready=True']),
    );
  });

  it('takes a PATCH only with a patch content type', async () => {
    const cluster = new FakeCluster();
    cluster.addNode('n1');
    const asJson = await refusal(
      core().patchNode({ name: 'n1', body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', 'application/json')),
    );
    expect(asJson).toMatchObject({ code: 415, status: { reason: 'UnsupportedMediaType' } });
    await core().patchNode({ name: 'n1', body: { spec: { unschedulable: true } } }, setHeaderOptions('Content-Type', PatchStrategy.MergePatch));
    expect(cluster.get('nodes', 'n1')?.spec.unschedulable).toBe(true);
  });

  it('pages lists with continue tokens that expire (410)', async () => {
    const cluster = new FakeCluster();
    for (const name of ['a', 'b', 'c']) cluster.put('pods', pod(name));
    const first = await core().listNamespacedPod({ namespace: NS, limit: 2 });
    expect(first.items).toHaveLength(2);
    cluster.expireContinueTokens();
    expect(await refusal(core().listNamespacedPod({ namespace: NS, limit: 2, _continue: first.metadata?._continue }))).toMatchObject({
      code: 410,
      status: { reason: 'Expired' },
    });
  });

  it('refuses objects that break the Kubernetes schema (422)', async () => {
    new FakeCluster();
    const broken = { ...pod('p'), spec: { containers: [{ name: 'robot', image: 'x', resources: { limits: { cpu: 'two cores' } } }] } };
    expect(await refusal(core().createNamespacedPod({ namespace: NS, body: broken as never }))).toMatchObject({
      code: 422,
      status: { reason: 'Invalid' },
    });
  });
});
