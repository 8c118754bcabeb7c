import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Ec2NodeProvider, KubernetesPodRuntime, LocalFolderLogArchive, LocalNodeProvider, ProviderError, S3LogArchive } from '@simdeploy/cloud';
import { GatewayConfig, WorkerConfig, loadConfig } from '@simdeploy/config';
import { LAUNCH_DEADLINE_MARGIN_MS, StepFailedError, callProvider, defaultLaunchDeadlineMs, sweeperOptionsFrom } from '@simdeploy/workflows';
import { createProviderRegistry } from '../src/worker.module';
import { ec2ConfigFrom, parseLaunchTemplate } from '../src/providers.factory';

const dir = mkdtempSync(join(tmpdir(), 'simdeploy-factory-'));
const kubeconfig = join(dir, 'kubeconfig');
writeFileSync(
  kubeconfig,
  `apiVersion: v1
kind: Config
clusters: [{ name: c, cluster: { server: 'https://k8s.test:6443' } }]
users: [{ name: u, user: { token: t } }]
contexts: [{ name: x, context: { cluster: c, user: u } }]
current-context: x
`,
);
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const AWS = {
  AWS_REGION: 'eu-west-1',
  EC2_CLUSTER_NAME: 'sim-cluster',
  EC2_SUBNET_IDS: 'subnet-0a1,subnet-0b2',
  EC2_SECURITY_GROUP_IDS: 'sg-0c3',
  EC2_IMAGE_ID: 'ami-0d4',
  EC2_INSTANCE_PROFILE_ARN: 'arn:aws:iam::123456789012:instance-profile/simdeploy-node',
  CONTROL_PLANE_CIDR: '10.0.0.0/24',
  INSTALLATION_ID: 'prod-eu',
  EC2_CLUSTER_ENDPOINT: 'https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
  EC2_CLUSTER_CA: 'Y2VydGlmaWNhdGVBdXRob3JpdHk=',
  EC2_CLUSTER_SERVICE_CIDR: '172.20.0.0/16',
  KUBECONFIG: kubeconfig,
  LOCAL_STATE_DIR: join(dir, 'local'),
};
const NO_RETRY = { maxAttempts: 5, baseDelayMs: 1, maxDelayMs: 1, callTimeoutMs: 1000 };

describe('createProviderRegistry', () => {
  it('offers only local by default, and fails a deployment on aws permanently with what to set', async () => {
    const registry = createProviderRegistry(loadConfig(WorkerConfig, { LOCAL_STATE_DIR: join(dir, 'local') }), { service: 'launcher' });
    expect(registry.names()).toEqual(['local']);
    expect(registry.defaultProvider).toBe('local');
    expect(registry.get('local').nodes).toBeInstanceOf(LocalNodeProvider);

    const aws = registry.get('aws');
    const refusal = await aws.nodes.launchNode({} as never).catch((error: unknown) => error);
    expect(refusal).toBeInstanceOf(ProviderError);
    expect(refusal).toMatchObject({ code: 'ProviderNotConfigured', transient: false });
    expect((refusal as Error).message).toMatch(/provider "aws" is not configured in launcher: set ENABLE_AWS=true/);
    await expect(aws.pods.deleteWorkload('d1')).rejects.toMatchObject({ code: 'ProviderNotConfigured' });
    await expect(registry.get('gcp').nodes.terminateDeployment('d1')).rejects.toThrow(/provider "gcp" is not configured/);
  });

  it('makes the step fail after one attempt instead of retrying an unconfigured provider', async () => {
    const registry = createProviderRegistry(loadConfig(WorkerConfig, { LOCAL_STATE_DIR: join(dir, 'local') }));
    let attempts = 0;
    const failure = await callProvider(
      'launchNode',
      () => {
        attempts++;
        return registry.get('aws').nodes.launchNode({} as never);
      },
      NO_RETRY,
    ).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(StepFailedError);
    expect(attempts).toBe(1);
  });

  it('adds EC2 machines and Kubernetes workloads as aws when PROVIDER=aws, without calling them', () => {
    const registry = createProviderRegistry(loadConfig(WorkerConfig, { ...AWS, PROVIDER: 'aws' }));
    expect(registry.names().sort()).toEqual(['aws', 'local']);
    expect(registry.defaultProvider).toBe('aws');
    expect(registry.get('aws').nodes).toBeInstanceOf(Ec2NodeProvider);
    expect(registry.get('aws').pods).toBeInstanceOf(KubernetesPodRuntime);
  });

  it('adds aws beside a local default when ENABLE_AWS=true', () => {
    const registry = createProviderRegistry(loadConfig(WorkerConfig, { ...AWS, ENABLE_AWS: 'true' }));
    expect(registry.defaultProvider).toBe('local');
    expect(registry.get('aws').nodes).toBeInstanceOf(Ec2NodeProvider);
  });
});

describe('the log archive', () => {
  it('is the LOG_ARCHIVE_DIR folder by default and the S3 bucket when one is set, for the workers and the gateway alike', async () => {
    const local = createProviderRegistry(loadConfig(WorkerConfig, { LOCAL_STATE_DIR: join(dir, 'local'), LOG_ARCHIVE_DIR: join(dir, 'logs') }));
    expect(local.archive).toBeInstanceOf(LocalFolderLogArchive);
    await local.archive.store('d1', 'pod-a', ['kept']);
    expect(await local.archive.read('d1', 'pod-a', 5)).toEqual(['kept']);

    const s3 = { LOCAL_STATE_DIR: join(dir, 'local'), LOG_ARCHIVE_S3_BUCKET: 'sim-logs', AWS_REGION: 'eu-west-1' };
    expect(createProviderRegistry(loadConfig(WorkerConfig, s3)).archive).toBeInstanceOf(S3LogArchive);
    expect(createProviderRegistry(loadConfig(GatewayConfig, { ...s3, JWT_SECRET: 'x'.repeat(32) })).archive).toBeInstanceOf(S3LogArchive);
  });
});

describe('EC2 settings', () => {
  it('maps the worker configuration onto the EC2 provider', () => {
    const config = loadConfig(WorkerConfig, { ...AWS, PROVIDER: 'aws', AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' });
    expect(ec2ConfigFrom(config)).toEqual({
      region: 'eu-west-1',
      clusterName: 'sim-cluster',
      installationId: 'prod-eu',
      nodeBootstrap: 'al2023',
      cluster: {
        apiServerEndpoint: 'https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
        certificateAuthority: 'Y2VydGlmaWNhdGVBdXRob3JpdHk=',
        serviceCidr: '172.20.0.0/16',
      },
      imageId: 'ami-0d4',
      subnetIds: ['subnet-0a1', 'subnet-0b2'],
      securityGroupIds: ['sg-0c3'],
      instanceProfileArn: 'arn:aws:iam::123456789012:instance-profile/simdeploy-node',
      endpoint: 'http://127.0.0.1:5000',
      retry: { maxAttempts: 1 },
    });
  });

  it('reads a launch template as an id or a name with an optional version', () => {
    expect(parseLaunchTemplate('lt-0abc123')).toEqual({ id: 'lt-0abc123' });
    expect(parseLaunchTemplate('lt-0abc123:7')).toEqual({ id: 'lt-0abc123', version: '7' });
    expect(parseLaunchTemplate('simdeploy-nodes:$Latest')).toEqual({ name: 'simdeploy-nodes', version: '$Latest' });
  });
});

describe('sweep settings', () => {
  it('default the launch deadline to the node-ready timeout plus the margin', () => {
    const options = sweeperOptionsFrom(loadConfig(WorkerConfig, { NODE_READY_TIMEOUT_S: '120', SWEEP_DRY_RUN: 'true' }));
    expect(options).toEqual({ dryRun: true, nodeReadyTimeoutMs: 120_000 });
    expect(defaultLaunchDeadlineMs(options.nodeReadyTimeoutMs)).toBe(120_000 + LAUNCH_DEADLINE_MARGIN_MS);
    expect(sweeperOptionsFrom(loadConfig(WorkerConfig, { SWEEP_LAUNCH_DEADLINE_S: '900' })).launchDeadlineMs).toBe(900_000);
  });
});
