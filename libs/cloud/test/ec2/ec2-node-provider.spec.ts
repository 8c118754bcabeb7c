import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstancesCommandInput,
  type DescribeInstancesCommandOutput,
  type InstanceStatus,
} from '@aws-sdk/client-ec2';
import { INSTALLATION_TAG, launchTokenFor } from '../../src/ec2';
import { CONTROL_PLANE_TAG, CONTROL_PLANE_TAG_VALUE, ProviderError } from '../../src/ports';
import { clientTokenFor } from '@simdeploy/domain';
import { waitFor } from '@simdeploy/testing';
import { DEPLOYMENT, INSTALLATION, decodeUserData, failureOf, request, setup } from './provider-setup';
import { ec2Error } from './sdk-errors';

const launched = (instanceId: string, privateDnsName = 'ip-10-0-0-1.ec2.internal') => ({
  Instances: [{ InstanceId: instanceId, PrivateDnsName: privateDnsName, ClientToken: 'x' }],
});

const status = (id: string, state: string, instance = 'ok', system = 'ok'): InstanceStatus => ({
  InstanceId: id,
  InstanceState: { Name: state as never, Code: 0 },
  InstanceStatus: { Status: instance as never },
  SystemStatus: { Status: system as never },
});

/** One subnet: RunInstances is the only call a launch makes (no lookup across subnets). */
const setupOneSubnet = (config: Parameters<typeof setup>[0] = {}) => setup({ subnetIds: ['subnet-a'], ...config });

describe('Ec2NodeProvider.launchNode', () => {
  it('sends one RunInstances with the client token, placement, profile, metadata options, user data and both tag specifications', async () => {
    const { ec2, provider } = setupOneSubnet();
    ec2.on(RunInstancesCommand).resolves(launched('i-0123'));

    await expect(provider.launchNode(request())).resolves.toEqual({
      instanceId: 'i-0123',
      nodeName: 'ip-10-0-0-1.ec2.internal',
    });

    const calls = ec2.commandCalls(RunInstancesCommand);
    expect(calls).toHaveLength(1);
    const input = calls[0].args[0].input;
    const tags = [
      { Key: 'Name', Value: `sim-${DEPLOYMENT}-simulator-0` },
      { Key: 'simdeploy.io/deployment-id', Value: DEPLOYMENT },
      { Key: 'simdeploy.io/owner', Value: 'alice' },
      { Key: 'simdeploy.io/node-role', Value: 'simulator' },
      { Key: 'kubernetes.io/cluster/sim-cluster', Value: 'owned' },
      { Key: CONTROL_PLANE_TAG, Value: CONTROL_PLANE_TAG_VALUE },
      { Key: INSTALLATION_TAG, Value: INSTALLATION },
      { Key: 'simdeploy.io/label/team', Value: 'nav' },
    ];
    expect({ ...input, UserData: undefined }).toStrictEqual({
      MinCount: 1,
      MaxCount: 1,
      ClientToken: launchTokenFor(`sd-${DEPLOYMENT}-simulator-0`, INSTALLATION, 'subnet-a'),
      InstanceType: 'g4dn.xlarge',
      ImageId: 'ami-0abc',
      SubnetId: 'subnet-a',
      SecurityGroupIds: ['sg-nodes'],
      IamInstanceProfile: { Arn: 'arn:aws:iam::123456789012:instance-profile/simdeploy-node' },
      MetadataOptions: { HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
      UserData: undefined,
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    });
    expect(decodeUserData(input.UserData)).toContain('Content-Type: application/node.eks.aws');
  });

  it('derives the client token from the domain token, the installation and the subnet, within EC2’s 64 characters', () => {
    const base = clientTokenFor(DEPLOYMENT, 'simulator', 0);
    const token = launchTokenFor(base, INSTALLATION, 'subnet-a');
    expect(token).toMatch(new RegExp(`^${base}-[0-9a-f]{8}$`));
    expect(launchTokenFor(base, INSTALLATION, 'subnet-a')).toBe(token);
    expect(launchTokenFor(base, INSTALLATION, 'subnet-b')).not.toBe(token);
    expect(launchTokenFor(base, 'staging', 'subnet-a')).not.toBe(token);
    const longest = clientTokenFor('a'.repeat(40), 'simulator', 99);
    expect(launchTokenFor(longest, INSTALLATION, 'subnet-0123456789abcdef0')).toHaveLength(64);
  });

  it('uses a launch template, and a custom key and user data', async () => {
    const { ec2, provider } = setupOneSubnet({
      imageId: undefined,
      launchTemplate: { name: 'simdeploy-gpu', version: '$Latest' },
      keyName: 'ops',
      bootstrapUserData: (ctx) => `echo ${ctx.role} ${ctx.index} ${ctx.owner}`,
    });
    ec2.on(RunInstancesCommand).resolves(launched('i-0456', 'ip-10-0-1-9.ec2.internal'));

    await provider.launchNode(request({ role: 'robots', index: 1, clientToken: clientTokenFor(DEPLOYMENT, 'robots', 1) }));

    const input = ec2.commandCalls(RunInstancesCommand)[0].args[0].input;
    expect(input).toMatchObject({
      ClientToken: expect.stringMatching(new RegExp(`^sd-${DEPLOYMENT}-robots-1-`)),
      LaunchTemplate: { LaunchTemplateName: 'simdeploy-gpu', Version: '$Latest' },
      SubnetId: 'subnet-a',
      KeyName: 'ops',
    });
    expect(input.ImageId).toBeUndefined();
    expect(decodeUserData(input.UserData)).toBe('echo robots 1 alice');
  });

  it('leaves out user labels that would break EC2 tag limits instead of failing the launch', async () => {
    const { ec2, provider } = setupOneSubnet();
    ec2.on(RunInstancesCommand).resolves(launched('i-0123'));

    await provider.launchNode(request({ labels: { team: 'nav', huge: 'v'.repeat(257), ['k'.repeat(120)]: 'x' } }));

    const tags = ec2.commandCalls(RunInstancesCommand)[0].args[0].input.TagSpecifications?.[0].Tags ?? [];
    expect(tags.filter((t) => t.Key?.startsWith('simdeploy.io/label/'))).toEqual([{ Key: 'simdeploy.io/label/team', Value: 'nav' }]);
  });

  it('sends the same client token when a crashed launch is retried, and gets the same instance', async () => {
    const { ec2, provider } = setupOneSubnet();
    ec2.on(RunInstancesCommand).resolves(launched('i-0123'));

    const first = await provider.launchNode(request());
    const second = await provider.launchNode(request());

    expect(second).toEqual(first);
    const tokens = ec2.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.ClientToken);
    expect(tokens).toEqual([tokens[0], tokens[0]]);
  });

  it('looks the node name up when RunInstances leaves PrivateDnsName out', async () => {
    const { ec2, provider } = setupOneSubnet();
    ec2.on(RunInstancesCommand).resolves(launched('i-0123', ''));
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-0123', PrivateDnsName: 'ip-10-0-0-7.ec2.internal' }] }],
    });

    await expect(provider.launchNode(request())).resolves.toEqual({ instanceId: 'i-0123', nodeName: 'ip-10-0-0-7.ec2.internal' });
    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input).toEqual({ InstanceIds: ['i-0123'] });
  });

  it('retries RequestLimitExceeded with jittered exponential backoff and then succeeds', async () => {
    const { ec2, provider, delays } = setupOneSubnet();
    ec2
      .on(RunInstancesCommand)
      .rejectsOnce(ec2Error('RequestLimitExceeded', 503))
      .rejectsOnce(ec2Error('RequestLimitExceeded', 503))
      .resolves(launched('i-0123'));

    await expect(provider.launchNode(request())).resolves.toMatchObject({ instanceId: 'i-0123' });

    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(3);
    // random() = 0.5 of min(1000, 100 * 2^(n-1)).
    expect(delays).toEqual([50, 100]);
  });

  it('gives up after maxAttempts transient failures and says how many it made', async () => {
    const { ec2, provider, delays } = setupOneSubnet({ retry: { maxAttempts: 4, baseDelayMs: 400, maxDelayMs: 1_000 } });
    ec2.on(RunInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 503));

    const error = await failureOf(provider.launchNode(request()));

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'RequestLimitExceeded', transient: true, attempts: 4 });
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(4);
    expect(delays).toEqual([200, 400, 500]);
  });

  it.each(['InvalidParameterValue', 'IdempotentParameterMismatch'])('fails at once on %s', async (code) => {
    const { ec2, provider, delays } = setupOneSubnet();
    ec2.on(RunInstancesCommand).rejects(ec2Error(code, 400));

    const error = await failureOf(provider.launchNode(request()));

    expect(error).toMatchObject({ code, transient: false, attempts: 1 });
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(1);
    expect(delays).toEqual([]);
  });

  it('stops retrying when aborted during the backoff and rejects with the abort reason', async () => {
    const controller = new AbortController();
    const { ec2, provider } = setupOneSubnet({
      sleep: async () => controller.abort(),
    });
    ec2.on(RunInstancesCommand).rejects(ec2Error('RequestLimitExceeded', 503));

    await expect(provider.launchNode(request(), controller.signal)).rejects.toMatchObject({ name: 'AbortError' });
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(1);
  });
});

describe('Ec2NodeProvider.checkNodes', () => {
  const nodes = [
    { instanceId: 'i-1', nodeName: 'ip-10-0-0-1.ec2.internal' },
    { instanceId: 'i-2', nodeName: 'ip-10-0-0-2.ec2.internal' },
  ];

  it('is ready when every instance runs with both status checks ok', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [status('i-1', 'running'), status('i-2', 'running')] });

    await expect(provider.checkNodes(DEPLOYMENT, nodes)).resolves.toEqual({ state: 'ready' });
    expect(ec2.commandCalls(DescribeInstanceStatusCommand)[0].args[0].input).toEqual({
      InstanceIds: ['i-1', 'i-2'],
      IncludeAllInstances: true,
    });
  });

  it('is pending while an instance boots, naming it', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [status('i-1', 'running'), status('i-2', 'pending', 'not-applicable', 'not-applicable')],
    });

    await expect(provider.checkNodes(DEPLOYMENT, nodes)).resolves.toEqual({
      state: 'pending',
      detail: 'i-2: pending, instance status not-applicable, system status not-applicable',
      reason: { code: 'InstanceStarting', message: 'i-2: pending, instance status not-applicable, system status not-applicable' },
    });
  });

  it('names the least advanced instance as the reason while several wait', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [status('i-1', 'running', 'initializing', 'ok'), status('i-2', 'pending', 'not-applicable', 'not-applicable')],
    });

    await expect(provider.checkNodes(DEPLOYMENT, nodes)).resolves.toMatchObject({
      state: 'pending',
      detail: 'i-1: running, instance status initializing, system status ok; i-2: pending, instance status not-applicable, system status not-applicable',
      reason: { code: 'InstanceStarting' },
    });
  });

  it('is pending when EC2 does not know the fresh instance yet', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).rejects(ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-2' does not exist"));

    await expect(provider.checkNodes(DEPLOYMENT, nodes)).resolves.toMatchObject({ state: 'pending' });
  });

  it('fails with the state reason when an instance was terminated', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [status('i-1', 'running'), status('i-2', 'terminated', 'not-applicable', 'not-applicable')],
    });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            {
              InstanceId: 'i-2',
              StateReason: { Code: 'Server.InsufficientInstanceCapacity', Message: 'Server.InsufficientInstanceCapacity: Insufficient capacity.' },
            },
          ],
        },
      ],
    });

    await expect(provider.checkNodes(DEPLOYMENT, nodes)).resolves.toEqual({
      state: 'failed',
      error: {
        code: 'InstanceNotRunning',
        message: 'i-2 is terminated (Server.InsufficientInstanceCapacity: Server.InsufficientInstanceCapacity: Insufficient capacity.)',
        transient: true,
      },
    });
    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input).toEqual({ InstanceIds: ['i-2'] });
  });

  it('fails permanently when an instance was stopped by someone', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [status('i-1', 'stopped', 'not-applicable', 'not-applicable'), status('i-2', 'running')],
    });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-1', StateReason: { Code: 'Client.UserInitiatedShutdown', Message: 'by user' } }] }],
    });

    await expect(provider.checkNodes(DEPLOYMENT, nodes)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'InstanceNotRunning', message: 'i-1 is stopped (Client.UserInitiatedShutdown: by user)', transient: false },
    });
  });
});

describe('Ec2NodeProvider.waitForNodes', () => {
  const nodes = [{ instanceId: 'i-1', nodeName: 'ip-10-0-0-1.ec2.internal' }];

  it('polls until the nodes are ready', async () => {
    const { ec2, provider, delays } = setup();
    ec2
      .on(DescribeInstanceStatusCommand)
      .resolvesOnce({ InstanceStatuses: [status('i-1', 'pending', 'not-applicable', 'not-applicable')] })
      .resolvesOnce({ InstanceStatuses: [status('i-1', 'running', 'initializing', 'initializing')] })
      .resolves({ InstanceStatuses: [status('i-1', 'running')] });

    await expect(provider.waitForNodes(DEPLOYMENT, nodes, { deadlineMs: 60_000, pollMs: 1_000 })).resolves.toEqual({ state: 'ready' });
    expect(ec2.commandCalls(DescribeInstanceStatusCommand)).toHaveLength(3);
    expect(delays).toEqual([1_000, 1_000]);
  });

  it('fails with NodeReadyTimeout, permanent, once the deadline passes', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [status('i-1', 'running', 'initializing', 'ok')] });

    const error = await failureOf(provider.waitForNodes(DEPLOYMENT, nodes, { deadlineMs: 10_000, pollMs: 3_000 }));

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'NodeReadyTimeout', transient: false });
    expect(error.message).toContain('i-1: running, instance status initializing');
    // Checks at t = 0, 3, 6, 9 and 10 s (the last pause is cut to the deadline).
    expect(ec2.commandCalls(DescribeInstanceStatusCommand)).toHaveLength(5);
  });

  it('rejects with an AbortError when aborted while it waits between checks', async () => {
    const { ec2, provider } = setup({ sleep: undefined });
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [status('i-1', 'pending', 'not-applicable', 'not-applicable')] });
    const controller = new AbortController();

    const waiting = provider.waitForNodes(DEPLOYMENT, nodes, { deadlineMs: 3_600_000, pollMs: 600_000, signal: controller.signal });
    await waitFor(() => ec2.commandCalls(DescribeInstanceStatusCommand).length === 1);
    controller.abort();

    await expect(waiting).rejects.toMatchObject({ name: 'AbortError' });
    expect(ec2.commandCalls(DescribeInstanceStatusCommand)).toHaveLength(1);
  });

  it('makes no call when the signal is already aborted', async () => {
    const { ec2, provider } = setup();
    const signal = AbortSignal.abort();

    await expect(provider.waitForNodes(DEPLOYMENT, nodes, { deadlineMs: 10_000, signal })).rejects.toMatchObject({ name: 'AbortError' });
    expect(ec2.calls()).toHaveLength(0);
  });
});

describe('Ec2NodeProvider termination', () => {
  it('treats an unknown instance id as terminated once DescribeInstances shows it so', async () => {
    const { ec2, provider } = setup();
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-gone' does not exist"));
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-gone', State: { Name: 'terminated', Code: 48 } }] }] });

    await expect(provider.terminateInstances(DEPLOYMENT, ['i-gone'])).resolves.toBeUndefined();
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(1);
  });

  it('still terminates the known ids when EC2 refuses a batch for one unknown id', async () => {
    const { ec2, provider } = setup();
    ec2
      .on(TerminateInstancesCommand)
      .rejectsOnce(ec2Error('InvalidInstanceID.NotFound', 400, "The instance IDs 'i-0b, i-0d' do not exist"))
      .resolves({ TerminatingInstances: [] });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        {
          Instances: [
            { InstanceId: 'i-0b', State: { Name: 'terminated', Code: 48 } },
            { InstanceId: 'i-0d', State: { Name: 'shutting-down', Code: 32 } },
          ],
        },
      ],
    });

    await provider.terminateInstances(DEPLOYMENT, ['i-0a', 'i-0b', 'i-0c', 'i-0d']);

    expect(ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([
      ['i-0a', 'i-0b', 'i-0c', 'i-0d'],
      ['i-0a', 'i-0c'],
    ]);
  });

  it('sends at most 1000 ids per TerminateInstances', async () => {
    const { ec2, provider } = setup();
    ec2.on(TerminateInstancesCommand).resolves({});
    const ids = Array.from({ length: 1001 }, (_, i) => `i-${i.toString(16).padStart(8, '0')}`);

    await provider.terminateInstances(DEPLOYMENT, ids);

    expect(ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([ids.slice(0, 1000), ids.slice(1000)]);
  });

  it('terminateDeployment finds the instances by tag, including one never recorded, and terminates them', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-recorded' }] }, { Instances: [{ InstanceId: 'i-unrecorded' }] }],
    });
    ec2.on(TerminateInstancesCommand).resolves({});

    await expect(provider.terminateDeployment(DEPLOYMENT)).resolves.toEqual(['i-recorded', 'i-unrecorded']);

    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input).toEqual({
      Filters: [
        { Name: 'tag:simdeploy.io/deployment-id', Values: [DEPLOYMENT] },
        { Name: `tag:${CONTROL_PLANE_TAG}`, Values: [CONTROL_PLANE_TAG_VALUE] },
        { Name: `tag:${INSTALLATION_TAG}`, Values: [INSTALLATION] },
        { Name: 'tag:kubernetes.io/cluster/sim-cluster', Values: ['owned'] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'stopping', 'stopped'] },
      ],
      MaxResults: 1000,
      NextToken: undefined,
    });
    expect(ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input)).toEqual([{ InstanceIds: ['i-recorded', 'i-unrecorded'] }]);
  });

  it('terminateDeployment with nothing left sends no TerminateInstances', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    await expect(provider.terminateDeployment(DEPLOYMENT)).resolves.toEqual([]);
    expect(ec2.commandCalls(TerminateInstancesCommand)).toHaveLength(0);
  });
});

describe('Ec2NodeProvider.listManagedInstances', () => {
  const page1: DescribeInstancesCommandOutput = {
    $metadata: {},
    Reservations: [
      {
        Instances: [
          {
            InstanceId: 'i-1',
            State: { Name: 'running' as const, Code: 16 },
            LaunchTime: new Date('2025-03-01T10:00:00Z'),
            ClientToken: 'sd-a-simulator-0',
            Tags: [
              { Key: 'simdeploy.io/deployment-id', Value: 'a' },
              { Key: CONTROL_PLANE_TAG, Value: CONTROL_PLANE_TAG_VALUE },
            ],
          },
        ],
      },
    ],
    NextToken: 'page-2',
  };
  const page2: DescribeInstancesCommandOutput = {
    $metadata: {},
    Reservations: [{ Instances: [{ InstanceId: 'i-2', State: { Name: 'stopped' as const, Code: 80 }, Tags: [] }] }],
  };
  const expected = [
    { instanceId: 'i-1', deploymentId: 'a', state: 'running', launchedAt: '2025-03-01T10:00:00.000Z', clientToken: 'sd-a-simulator-0' },
    { instanceId: 'i-2', deploymentId: null, state: 'stopped' },
  ];

  // The SDK paginator reuses one input object for every page, so copy each as it is sent.
  function recordInputs(ec2: ReturnType<typeof setup>['ec2'], answers: Array<DescribeInstancesCommandOutput | Error>) {
    const inputs: DescribeInstancesCommandInput[] = [];
    ec2.on(DescribeInstancesCommand).callsFake(async (input: DescribeInstancesCommandInput) => {
      inputs.push({ ...input });
      const answer = answers[inputs.length - 1];
      if (answer instanceof Error) throw answer;
      return answer;
    });
    return inputs;
  }

  it('reads every page of this installation’s instances in this cluster', async () => {
    const { ec2, provider } = setup();
    const inputs = recordInputs(ec2, [page1, page2]);

    await expect(provider.listManagedInstances()).resolves.toEqual(expected);

    expect(inputs).toEqual([
      {
        Filters: [
          { Name: `tag:${CONTROL_PLANE_TAG}`, Values: [CONTROL_PLANE_TAG_VALUE] },
          { Name: `tag:${INSTALLATION_TAG}`, Values: [INSTALLATION] },
          { Name: 'tag:kubernetes.io/cluster/sim-cluster', Values: ['owned'] },
          { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
        ],
        MaxResults: 1000,
        NextToken: undefined,
      },
      expect.objectContaining({ NextToken: 'page-2' }),
    ]);
  });

  it('resumes from the last page read after a throttled page', async () => {
    const { ec2, provider } = setup();
    const inputs = recordInputs(ec2, [page1, ec2Error('RequestLimitExceeded', 503), page2]);

    await expect(provider.listManagedInstances()).resolves.toEqual(expected);
    expect(inputs.map((input) => input.NextToken)).toEqual([undefined, 'page-2', 'page-2']);
  });
});
