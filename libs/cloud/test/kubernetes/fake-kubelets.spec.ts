import { CoreV1Api } from '@kubernetes/client-node';
import nock from 'nock';
import { al2023UserData, al2UserData, type BootstrapContext } from '../../src/ec2';
import { CLUSTER } from '../ec2/provider-setup';
import { FAKE_SERVER, FakeCluster, kubeConfigFor, resetFakeApi } from './fake-kubernetes-api';
import { FakeKubelets, kubeletRegistration } from './fake-kubelets';

const NS = 'simdeploy';
const core = () => kubeConfigFor(FAKE_SERVER).makeApiClient(CoreV1Api);
const ctx: BootstrapContext = { clusterName: 'sim-cluster', deploymentId: 'd1', owner: 'alice', role: 'robots', index: 0 };
const pod = (name: string, nodeSelector: Record<string, string>, tolerations: object[] = []) => ({
  apiVersion: 'v1',
  kind: 'Pod',
  metadata: { name, namespace: NS, labels: { 'simdeploy.io/deployment-id': 'd1', 'simdeploy.io/pod-role': 'simulator' } },
  spec: { containers: [{ name: 'simulator', image: 'gz-sim:8' }], nodeSelector, tolerations },
});
const toleratesD1 = [{ key: 'simdeploy.io/deployment-id', operator: 'Equal', value: 'd1', effect: 'NoSchedule' }];

beforeAll(() => nock.disableNetConnect());
afterEach(resetFakeApi);
afterAll(() => {
  nock.enableNetConnect();
  nock.restore();
});

/** The kubelets and scheduler beside the API double: they must act on what a real node and scheduler read. */
describe('the kubelet and scheduler doubles', () => {
  it('register a node with the labels and taint the kubelet flags of either bootstrap give', () => {
    const expected = {
      labels: { 'simdeploy.io/deployment-id': 'd1', 'simdeploy.io/node-role': 'robots', 'simdeploy.io/group-id': 'd1' },
      taints: [{ key: 'simdeploy.io/deployment-id', value: 'd1', effect: 'NoSchedule' }],
    };
    expect(kubeletRegistration(al2023UserData({ ...ctx, cluster: CLUSTER }))).toEqual(expected);
    expect(kubeletRegistration(al2UserData(ctx))).toEqual(expected);
  });

  it('leave a pod Unschedulable, with the scheduler’s count of why, until a node fits its selector and taints', async () => {
    const cluster = new FakeCluster();
    const kubelets = new FakeKubelets(cluster);
    kubelets.tick([{ nodeName: 'ip-10-0-1-10.ec2.internal', userData: al2023UserData({ ...ctx, cluster: CLUSTER }) }]);
    await core().createNamespacedPod({ namespace: NS, body: pod('untolerating', { 'simdeploy.io/node-role': 'robots' }) });
    await core().createNamespacedPod({ namespace: NS, body: pod('elsewhere', { 'simdeploy.io/node-role': 'simulator' }, toleratesD1) });
    await core().createNamespacedPod({ namespace: NS, body: pod('fits', { 'simdeploy.io/node-role': 'robots' }, toleratesD1) });

    kubelets.tick([]);

    const scheduled = (name: string) => cluster.get('pods', name)?.status.conditions.find((c: { type: string }) => c.type === 'PodScheduled');
    expect(scheduled('untolerating')).toMatchObject({
      status: 'False',
      reason: 'Unschedulable',
      message: expect.stringMatching(/^0\/1 nodes are available: 1 node\(s\) had untolerated taint \{simdeploy\.io\/deployment-id: d1\}\./),
    });
    expect(scheduled('elsewhere')?.message).toContain("1 node(s) didn't match Pod's node affinity/selector");
    expect(cluster.get('pods', 'fits')?.spec.nodeName).toBe('ip-10-0-1-10.ec2.internal');
    expect((await core().readNamespacedPod({ name: 'fits', namespace: NS })).status).toMatchObject({ phase: 'Running' });
  });

  it('crash the simulator of a deployment told to, with exit code 3 and its lines, and never start it again', async () => {
    const cluster = new FakeCluster();
    const kubelets = new FakeKubelets(cluster);
    kubelets.crashingSimulators.add('d1');
    kubelets.tick([{ nodeName: 'ip-10-0-1-10.ec2.internal', userData: al2UserData(ctx) }]);
    await core().createNamespacedPod({ namespace: NS, body: pod('sim', { 'simdeploy.io/node-role': 'robots' }, toleratesD1) });

    kubelets.tick([]);
    kubelets.tick([]);

    const read = await core().readNamespacedPod({ name: 'sim', namespace: NS });
    expect(read.status?.phase).toBe('Failed');
    expect(read.status?.containerStatuses?.[0]?.state?.terminated).toMatchObject({ exitCode: 3, reason: 'Error' });
    await expect(core().readNamespacedPodLog({ name: 'sim', namespace: NS })).resolves.toBe('loading world\ncannot open display\n');
  });
});
