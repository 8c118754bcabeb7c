import { DescribeInstancesCommand, EC2Client, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { KubeConfig } from '@kubernetes/client-node';
import { CONTROL_PLANE_TAG, CONTROL_PLANE_TAG_VALUE, DEPLOYMENT_TAG, Ec2NodeProvider, KubernetesPodRuntime } from '@simdeploy/cloud';
import type { JetStreamEventStore } from '@simdeploy/event-store';
import { DeploymentCommandHandler } from '../src/command-handler';
import { ProviderRegistry } from '../src/providers';
import { createOrphanSweeper } from '../src/sweep';
import { mockClient } from 'aws-sdk-client-mock';
import nock from 'nock';
import { T0, TestClock, commander, deploymentId, openStore, spec, sweptEvents } from './sweep-helpers';

/** A made-up API server: nock answers for it, nothing leaves the machine. */
const K8S = 'https://k8s.test:6443';
const NS = 'sims';
const MANAGED = `${CONTROL_PLANE_TAG}=${CONTROL_PLANE_TAG_VALUE}`;

const kubeConfig = new KubeConfig();
kubeConfig.loadFromOptions({
  clusters: [{ name: 'c', server: K8S, skipTLSVerify: true }],
  users: [{ name: 'u', token: 'sweep-token' }],
  contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
  currentContext: 'x',
});

const instance = (InstanceId: string, deployment: string) => ({
  InstanceId,
  State: { Name: 'running' as const, Code: 16 },
  Tags: [
    { Key: CONTROL_PLANE_TAG, Value: CONTROL_PLANE_TAG_VALUE },
    { Key: DEPLOYMENT_TAG, Value: deployment },
  ],
});

describe('OrphanSweeper over the aws providers (EC2 and Kubernetes doubles)', () => {
  let store: JetStreamEventStore;
  let closeStore: () => Promise<void>;

  beforeAll(async () => {
    ({ store, close: closeStore } = await openStore());
    nock.disableNetConnect();
    nock.enableNetConnect('127.0.0.1');
  });
  afterAll(async () => {
    nock.enableNetConnect();
    await closeStore();
  });
  afterEach(() => {
    const pending = nock.pendingMocks();
    nock.cleanAll();
    expect(pending).toEqual([]);
  });

  it('sends TerminateInstances for the orphan only', async () => {
    const handler = new DeploymentCommandHandler(store);
    const exec = commander(handler);
    const request = async (id: string) => {
      await exec(id, 'RequestLaunch', { deploymentId: id, owner: 'alice', spec: spec(0), provider: 'aws' });
      await exec(id, 'StartLaunchingNodes', {});
    };
    const [recorded, launching, finished] = [deploymentId(), deploymentId(), deploymentId()];
    await request(recorded);
    await exec(recorded, 'RecordInstance', { role: 'simulator', index: 0, instanceId: 'i-0recorded', nodeName: 'ip-10-0-0-1' });
    await request(launching);
    await request(finished);
    await exec(finished, 'RequestStop', { reason: 'user' });
    for (const type of ['StartDeletingPods', 'StartDeletingNodes', 'StartTerminatingInstances', 'MarkTerminated'] as const) await exec(finished, type, {});

    const ec2Client = new EC2Client({ region: 'eu-west-1', credentials: { accessKeyId: 'AKIDTEST', secretAccessKey: 'test' } });
    const ec2 = mockClient(ec2Client);
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [instance('i-0recorded', recorded), instance('i-0launching', launching), instance('i-0orphan', finished)] },
      ],
    });
    ec2.on(TerminateInstancesCommand).resolves({ TerminatingInstances: [] });
    const api = nock(K8S, { reqheaders: { authorization: 'Bearer sweep-token' } });
    for (const path of [`/api/v1/namespaces/${NS}/pods`, `/api/v1/namespaces/${NS}/services`, `/apis/networking.k8s.io/v1/namespaces/${NS}/networkpolicies`]) {
      api.get(path).query((q) => q["labelSelector"] === MANAGED).times(2).reply(200, { metadata: {}, items: [] });
    }

    const nodes = new Ec2NodeProvider(
      {
        region: 'eu-west-1',
        clusterName: 'sim-cluster',
        installationId: 'prod-eu',
        nodeBootstrap: 'al2',
        subnetIds: ['subnet-0a1'],
        securityGroupIds: ['sg-0c3'],
        imageId: 'ami-0d4',
        instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/simdeploy-node',
        retry: { maxAttempts: 1 },
      },
      ec2Client,
    );
    const pods = new KubernetesPodRuntime({ kubeConfig, namespace: NS, controlPlaneCidr: '10.0.0.0/24' });
    const registry = new ProviderRegistry({ aws: { nodes, pods } }, 'aws');
    const clock = new TestClock(T0 + 1000);
    const report = await createOrphanSweeper({ registry, handler, clock }, { launchDeadlineMs: 60_000 }).sweepOnce();

    expect(report.errors).toEqual([]);
    expect(report.checked).toEqual({ instances: 3, workloads: 0 });
    expect(report.findings).toEqual([
      expect.objectContaining({ provider: 'aws', resourceId: 'i-0orphan', reason: 'deployment-terminated', action: 'removed' }),
    ]);
    expect(ec2.commandCalls(TerminateInstancesCommand).map((call) => call.args[0].input)).toEqual([{ InstanceIds: ['i-0orphan'] }]);
    const [describe] = ec2.commandCalls(DescribeInstancesCommand).map((call) => call.args[0].input.Filters);
    expect(describe).toContainEqual({ Name: `tag:${CONTROL_PLANE_TAG}`, Values: [CONTROL_PLANE_TAG_VALUE] });
    expect((await sweptEvents(store, finished)).map((e) => e.data)).toEqual([expect.objectContaining({ provider: 'aws', resourceId: 'i-0orphan' })]);
  });
});
