import { DescribeInstanceStatusCommand, DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { loadYaml } from '@kubernetes/client-node';
import { DEDICATED_TAINT_KEY } from '../../src/ports';
import { CLUSTER, DEPLOYMENT, decodeUserData, request, setup } from './provider-setup';

/**
 * The NodeConfig schema nodeadm documents (awslabs/amazon-eks-ami, nodeadm/crds/
 * node.eks.aws_nodeconfigs.yaml, v1alpha1): the fields simdeploy may send, with their
 * types. nodeadm decodes strictly, so an unknown field is an error here too.
 */
type Schema =
  | { type: 'string'; format?: 'byte' }
  | { type: 'boolean' }
  | { type: 'array'; items: Schema }
  | { type: 'object'; properties?: Record<string, Schema>; additionalProperties?: true };

const NODE_CONFIG_SCHEMA: Schema = {
  type: 'object',
  properties: {
    apiVersion: { type: 'string' },
    kind: { type: 'string' },
    metadata: { type: 'object', additionalProperties: true },
    spec: {
      type: 'object',
      properties: {
        cluster: {
          type: 'object',
          properties: {
            apiServerEndpoint: { type: 'string' },
            certificateAuthority: { type: 'string', format: 'byte' },
            cidr: { type: 'string' },
            enableOutpost: { type: 'boolean' },
            id: { type: 'string' },
            name: { type: 'string' },
          },
        },
        containerd: { type: 'object', additionalProperties: true },
        featureGates: { type: 'object', additionalProperties: true },
        instance: { type: 'object', additionalProperties: true },
        kubelet: {
          type: 'object',
          properties: {
            config: { type: 'object', additionalProperties: true },
            flags: { type: 'array', items: { type: 'string' } },
          },
        },
      },
    },
  },
};

function schemaProblems(value: unknown, schema: Schema, path = ''): string[] {
  switch (schema.type) {
    case 'string':
      if (typeof value !== 'string') return [`${path}: expected a string`];
      if (schema.format === 'byte' && !/^[A-Za-z0-9+/]+={0,2}$/.test(value)) return [`${path}: expected base64`];
      return [];
    case 'boolean':
      return typeof value === 'boolean' ? [] : [`${path}: expected a boolean`];
    case 'array':
      return Array.isArray(value) ? value.flatMap((item, i) => schemaProblems(item, schema.items, `${path}[${i}]`)) : [`${path}: expected an array`];
    case 'object': {
      if (typeof value !== 'object' || value === null || Array.isArray(value)) return [`${path}: expected an object`];
      if (schema.additionalProperties) return [];
      return Object.entries(value).flatMap(([key, child]) => {
        const childSchema = schema.properties?.[key];
        return childSchema ? schemaProblems(child, childSchema, `${path}.${key}`) : [`${path}.${key}: not a NodeConfig field`];
      });
    }
  }
}

/** The parts of a MIME multipart document, as cloud-init and nodeadm split it. */
function mimeParts(document: string): Array<{ contentType: string; body: string }> {
  const [head, ...rest] = document.split('\n\n');
  expect(head).toMatch(/^MIME-Version: 1\.0\nContent-Type: multipart\/mixed; boundary="([^"]+)"$/);
  const boundary = /boundary="([^"]+)"/.exec(head)?.[1] ?? '';
  const body = rest.join('\n\n');
  expect(body.trimEnd().endsWith(`--${boundary}--`)).toBe(true);
  return body
    .split(`--${boundary}`)
    .slice(1, -1)
    .map((part) => {
      const [partHead, ...content] = part.replace(/^\n/, '').split('\n\n');
      return { contentType: /^Content-Type: ([^;\n]+)/.exec(partHead)?.[1] ?? '', body: content.join('\n\n') };
    });
}

const kubeletFlag = (flags: string[], name: string): string | undefined =>
  flags.find((f) => f.startsWith(`--${name}=`))?.slice(name.length + 3);

async function userDataSent(config: Parameters<typeof setup>[0] = {}) {
  const { ec2, provider } = setup(config);
  ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0123', PrivateDnsName: 'ip-10-0-0-1.ec2.internal' }] });
  ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });
  await provider.launchNode(request({ role: 'robots' }));
  return ec2.commandCalls(RunInstancesCommand)[0].args[0].input.UserData;
}

describe('node user data (finding 2)', () => {
  it('joins an AL2023 node by default with a nodeadm NodeConfig that matches the documented schema', async () => {
    const parts = mimeParts(decodeUserData(await userDataSent()));

    const nodeConfigs = parts.filter((p) => p.contentType === 'application/node.eks.aws');
    expect(nodeConfigs).toHaveLength(1);
    const nodeConfig = loadYaml<Record<string, never>>(nodeConfigs[0].body);
    expect(schemaProblems(nodeConfig, NODE_CONFIG_SCHEMA)).toEqual([]);
    expect(nodeConfig).toMatchObject({
      apiVersion: 'node.eks.aws/v1alpha1',
      kind: 'NodeConfig',
      spec: {
        cluster: {
          name: 'sim-cluster',
          apiServerEndpoint: CLUSTER.apiServerEndpoint,
          certificateAuthority: CLUSTER.certificateAuthority,
          cidr: CLUSTER.serviceCidr,
        },
      },
    });
  });

  it('registers the node with the deployment taint and the simdeploy.io labels, never node-restriction ones', async () => {
    const [nodeConfig] = mimeParts(decodeUserData(await userDataSent())).filter((p) => p.contentType === 'application/node.eks.aws');
    const flags = (loadYaml<{ spec: { kubelet: { flags: string[] } } }>(nodeConfig.body)).spec.kubelet.flags;

    expect(kubeletFlag(flags, 'register-with-taints')).toBe(`${DEDICATED_TAINT_KEY}=${DEPLOYMENT}:NoSchedule`);
    const labels = Object.fromEntries((kubeletFlag(flags, 'node-labels') ?? '').split(',').map((l) => l.split('=')));
    expect(labels).toEqual({
      'simdeploy.io/deployment-id': DEPLOYMENT,
      'simdeploy.io/node-role': 'robots',
      'simdeploy.io/group-id': DEPLOYMENT,
    });
    expect(flags.join(' ')).not.toContain('node-restriction.kubernetes.io');
  });

  it('stops a machine whose image has no nodeadm, so the launch fails with a reason instead of timing out', async () => {
    const parts = mimeParts(decodeUserData(await userDataSent()));
    const script = parts.find((p) => p.contentType === 'text/x-shellscript');

    expect(script?.body).toMatch(/^#!\/bin\/sh\n/);
    expect(script?.body).toContain('command -v nodeadm');
    expect(script?.body).toContain('poweroff');
  });

  it('keeps the AL2 bootstrap script behind a setting, with the taint and the cluster details', async () => {
    const script = decodeUserData(await userDataSent({ nodeBootstrap: 'al2' }));

    expect(script).toMatch(/^#!\/bin\/bash\n/);
    expect(script).toContain(
      `/etc/eks/bootstrap.sh 'sim-cluster' --apiserver-endpoint '${CLUSTER.apiServerEndpoint}' --b64-cluster-ca '${CLUSTER.certificateAuthority}' --dns-cluster-ip '172.20.0.10' --kubelet-extra-args ` +
        `'--node-labels=simdeploy.io/deployment-id=${DEPLOYMENT},simdeploy.io/node-role=robots,simdeploy.io/group-id=${DEPLOYMENT} ` +
        `--register-with-taints=${DEDICATED_TAINT_KEY}=${DEPLOYMENT}:NoSchedule'`,
    );
    expect(script).toContain('poweroff');
  });

  it('sends no user data when the operator bootstraps nodes from the launch template', async () => {
    const userData = await userDataSent({ nodeBootstrap: 'launch-template', launchTemplate: { name: 'simdeploy-nodes' }, cluster: undefined });
    expect(userData).toBeUndefined();
  });

  it('refuses to start without the cluster details AL2023 needs, naming them', () => {
    expect(() => setup({ cluster: undefined })).toThrow(/apiServerEndpoint.*certificateAuthority.*serviceCidr/);
    expect(() => setup({ nodeBootstrap: 'launch-template', launchTemplate: undefined })).toThrow(/launch template/);
  });

  it('reports a machine that stopped itself during boot as a bootstrap failure that says what to check', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [
        { InstanceId: 'i-1', InstanceState: { Name: 'stopped', Code: 80 }, InstanceStatus: { Status: 'not-applicable' }, SystemStatus: { Status: 'not-applicable' } },
      ],
    });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [{ InstanceId: 'i-1', StateReason: { Code: 'Client.InstanceInitiatedShutdown', Message: 'Client.InstanceInitiatedShutdown: Instance initiated shutdown' } }] },
      ],
    });

    await expect(provider.checkNodes(DEPLOYMENT, [{ instanceId: 'i-1', nodeName: 'ip-10-0-0-1.ec2.internal' }])).resolves.toEqual({
      state: 'failed',
      error: {
        code: 'NodeBootstrapFailed',
        message: expect.stringMatching(/i-1 shut itself down while booting.*nodeadm.*AL2023.*EC2_IMAGE_ID.*EC2_NODE_BOOTSTRAP/),
        transient: false,
      },
    });
  });
});
