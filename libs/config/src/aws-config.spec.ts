import { ConfigError, loadConfig } from './load-config';
import { WorkerConfig, awsEnabled } from './service-config';

const AWS = {
  PROVIDER: 'aws',
  AWS_REGION: 'eu-west-1',
  EC2_CLUSTER_NAME: 'sim-cluster',
  EC2_SUBNET_IDS: 'subnet-0a1, subnet-0b2',
  EC2_SECURITY_GROUP_IDS: 'sg-0c3',
  EC2_IMAGE_ID: 'ami-0d4',
  EC2_INSTANCE_PROFILE_ARN: 'arn:aws:iam::123456789012:instance-profile/simdeploy-node',
  CONTROL_PLANE_CIDR: '10.0.0.0/24',
  INSTALLATION_ID: 'prod-eu',
  EC2_CLUSTER_ENDPOINT: 'https://0123456789ABCDEF.gr7.eu-west-1.eks.amazonaws.com',
  EC2_CLUSTER_CA: 'LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUMvakNDQWVhZ0F3SUJBZ0lCQURBTgotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==',
  EC2_CLUSTER_SERVICE_CIDR: '172.20.0.0/16',
};

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(WorkerConfig, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};
const variablesIn = (problems: string[]) => problems.map((p) => p.split(':')[0]).sort();

describe('WorkerConfig AWS, Kubernetes and sweep settings', () => {
  it('needs no AWS setting for the local provider and keeps aws off', () => {
    const config = loadConfig(WorkerConfig, {});
    expect(awsEnabled(config)).toBe(false);
    expect(config).toMatchObject({ ENABLE_AWS: false, K8S_NAMESPACE: 'simdeploy', SWEEP_DRY_RUN: false });
  });

  it('names every missing AWS variable when PROVIDER=aws', () => {
    const problems = problemsOf({ PROVIDER: 'aws' });
    expect(variablesIn(problems)).toEqual([
      'AWS_REGION',
      'EC2_CLUSTER_CA',
      'EC2_CLUSTER_ENDPOINT',
      'EC2_CLUSTER_NAME',
      'EC2_CLUSTER_SERVICE_CIDR',
      'EC2_IMAGE_ID',
      'EC2_INSTANCE_PROFILE_ARN',
      'EC2_SECURITY_GROUP_IDS',
      'EC2_SUBNET_IDS',
      'INSTALLATION_ID',
    ]);
    expect(problems.every((p) => p.includes('(not set)'))).toBe(true);
    expect(problems.find((p) => p.startsWith('AWS_REGION'))).toMatch(/required when PROVIDER=aws or ENABLE_AWS=true/);
  });

  it('requires the same settings when ENABLE_AWS=true keeps local the default', () => {
    expect(variablesIn(problemsOf({ ENABLE_AWS: 'true' }))).toContain('EC2_CLUSTER_NAME');
    const config = loadConfig(WorkerConfig, { ...AWS, PROVIDER: 'local', ENABLE_AWS: 'true' });
    expect(config.PROVIDER).toBe('local');
    expect(awsEnabled(config)).toBe(true);
    expect(loadConfig(WorkerConfig, { ENABLE_AWS: 'false' }).ENABLE_AWS).toBe(false);
    expect(variablesIn(problemsOf({ ENABLE_AWS: 'maybe' }))).toEqual(['ENABLE_AWS']);
  });

  it('reads comma-separated subnets and security groups', () => {
    const config = loadConfig(WorkerConfig, AWS);
    expect(config.EC2_SUBNET_IDS).toEqual(['subnet-0a1', 'subnet-0b2']);
    expect(config.EC2_SECURITY_GROUP_IDS).toEqual(['sg-0c3']);
    expect(problemsOf({ ...AWS, EC2_SUBNET_IDS: 'subnet-0a1,vpc-9' })).toEqual([
      expect.stringMatching(/^EC2_SUBNET_IDS: .*subnet ids like subnet-0abc.*\(got "subnet-0a1,vpc-9"\)$/),
    ]);
  });

  it('lets a launch template stand in for the image, subnets, groups and instance profile', () => {
    const { EC2_IMAGE_ID, EC2_SUBNET_IDS, EC2_SECURITY_GROUP_IDS, EC2_INSTANCE_PROFILE_ARN, ...rest } = AWS;
    expect([EC2_IMAGE_ID, EC2_SUBNET_IDS, EC2_SECURITY_GROUP_IDS, EC2_INSTANCE_PROFILE_ARN]).toHaveLength(4);
    expect(loadConfig(WorkerConfig, { ...rest, EC2_LAUNCH_TEMPLATE: 'simdeploy-nodes:$Latest' }).EC2_LAUNCH_TEMPLATE).toBe(
      'simdeploy-nodes:$Latest',
    );
    expect(variablesIn(problemsOf({ ...rest, EC2_LAUNCH_TEMPLATE: 'lt-0abc:latest' }))).toEqual(['EC2_LAUNCH_TEMPLATE']);
  });

  it('names malformed values with what it expected', () => {
    const problems = problemsOf({
      ...AWS,
      AWS_REGION: 'Ireland',
      CONTROL_PLANE_CIDR: '10.0.0.0',
      AWS_ENDPOINT_URL: 'localhost',
      K8S_NAMESPACE: 'Sim_Deploy',
      SWEEP_LAUNCH_DEADLINE_S: '5',
    });
    expect(variablesIn(problems)).toEqual(['AWS_ENDPOINT_URL', 'AWS_REGION', 'CONTROL_PLANE_CIDR', 'K8S_NAMESPACE', 'SWEEP_LAUNCH_DEADLINE_S']);
    expect(problems.find((p) => p.startsWith('CONTROL_PLANE_CIDR'))).toMatch(/CIDR like 10.0.0.0\/24.*\(got "10.0.0.0"\)/);
  });

  it('reads the sweep settings', () => {
    expect(loadConfig(WorkerConfig, { SWEEP_DRY_RUN: 'true', SWEEP_LAUNCH_DEADLINE_S: '900' })).toMatchObject({
      SWEEP_DRY_RUN: true,
      SWEEP_LAUNCH_DEADLINE_S: 900,
    });
  });

  it('requires an installation id naming what it expects, so installations in one account keep apart', () => {
    const { INSTALLATION_ID, ...rest } = AWS;
    expect(INSTALLATION_ID).toBe('prod-eu');
    expect(problemsOf(rest)).toEqual([expect.stringMatching(/^INSTALLATION_ID: .*installation.*required when PROVIDER=aws or ENABLE_AWS=true.*\(not set\)$/)]);
    expect(variablesIn(problemsOf({ ...AWS, INSTALLATION_ID: 'Prod EU' }))).toEqual(['INSTALLATION_ID']);
    expect(loadConfig(WorkerConfig, AWS).INSTALLATION_ID).toBe('prod-eu');
  });

  it('joins AL2023 nodes by default and needs the cluster endpoint, CA and service CIDR for it', () => {
    const config = loadConfig(WorkerConfig, AWS);
    expect(config.EC2_NODE_BOOTSTRAP).toBe('al2023');
    expect(config).toMatchObject({ EC2_CLUSTER_ENDPOINT: AWS.EC2_CLUSTER_ENDPOINT, EC2_CLUSTER_SERVICE_CIDR: '172.20.0.0/16' });
    const problems = problemsOf({ ...AWS, EC2_CLUSTER_ENDPOINT: 'http://cluster', EC2_CLUSTER_CA: 'not base64!', EC2_CLUSTER_SERVICE_CIDR: '172.20.0.0' });
    expect(variablesIn(problems)).toEqual(['EC2_CLUSTER_CA', 'EC2_CLUSTER_ENDPOINT', 'EC2_CLUSTER_SERVICE_CIDR']);
    expect(problems.find((p) => p.startsWith('EC2_CLUSTER_ENDPOINT'))).toMatch(/https URL of the EKS API server.*EC2_NODE_BOOTSTRAP=al2023/);
    expect(problems.find((p) => p.startsWith('EC2_CLUSTER_CA'))).toMatch(/base64/);
    expect(loadConfig(WorkerConfig, { ...AWS, EC2_CLUSTER_SERVICE_CIDR: 'fd00:ab::/108' }).EC2_CLUSTER_SERVICE_CIDR).toBe('fd00:ab::/108');
  });

  it('lets AL2 nodes look the cluster up themselves, and a launch template bootstrap them', () => {
    const { EC2_CLUSTER_ENDPOINT, EC2_CLUSTER_CA, EC2_CLUSTER_SERVICE_CIDR, ...rest } = AWS;
    expect([EC2_CLUSTER_ENDPOINT, EC2_CLUSTER_CA, EC2_CLUSTER_SERVICE_CIDR]).toHaveLength(3);
    expect(loadConfig(WorkerConfig, { ...rest, EC2_NODE_BOOTSTRAP: 'al2' }).EC2_NODE_BOOTSTRAP).toBe('al2');
    expect(loadConfig(WorkerConfig, { ...rest, EC2_NODE_BOOTSTRAP: 'launch-template', EC2_LAUNCH_TEMPLATE: 'simdeploy-nodes' }).EC2_NODE_BOOTSTRAP).toBe(
      'launch-template',
    );
    const problems = problemsOf({ ...rest, EC2_NODE_BOOTSTRAP: 'launch-template' });
    expect(problems).toEqual([expect.stringMatching(/^EC2_LAUNCH_TEMPLATE: .*required when EC2_NODE_BOOTSTRAP=launch-template.*\(not set\)$/)]);
    expect(problemsOf({ ...AWS, EC2_NODE_BOOTSTRAP: 'bottlerocket' })).toEqual([expect.stringMatching(/^EC2_NODE_BOOTSTRAP: must be "al2023".*"al2".*"launch-template"/)]);
  });

  it('reads the Kubernetes runtime settings and names a malformed one with what it expected', () => {
    const config = loadConfig(WorkerConfig, {
      K8S_SIMULATOR_CLIENTS: '[{"namespaceSelector":{"matchLabels":{"kubernetes.io/metadata.name":"ingress"}}}]',
      K8S_ALLOWED_EGRESS: '[{"cidr":"203.0.113.0/24","ports":[{"port":443}]}]',
      K8S_API_SERVER_CIDRS: '10.100.0.1/32, 172.20.0.1/32',
      K8S_IMAGE_PULL_SECRETS: 'registry-creds',
      K8S_RUN_AS_NON_ROOT: 'true',
    });
    expect(config).toMatchObject({
      K8S_SIMULATOR_CLIENTS: [{ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress' } } }],
      K8S_ALLOWED_EGRESS: [{ cidr: '203.0.113.0/24', ports: [{ port: 443 }] }],
      K8S_API_SERVER_CIDRS: ['10.100.0.1/32', '172.20.0.1/32'],
      K8S_IMAGE_PULL_SECRETS: ['registry-creds'],
      K8S_RUN_AS_NON_ROOT: true,
      K8S_DRAIN_TIMEOUT_S: 180,
    });
    const problems = problemsOf({ K8S_ALLOWED_EGRESS: 'everything', K8S_API_SERVER_CIDRS: '10.100.0.1' });
    expect(variablesIn(problems)).toEqual(['K8S_ALLOWED_EGRESS', 'K8S_API_SERVER_CIDRS']);
    expect(problems.find((p) => p.startsWith('K8S_ALLOWED_EGRESS'))).toMatch(/JSON array/);
  });
});
