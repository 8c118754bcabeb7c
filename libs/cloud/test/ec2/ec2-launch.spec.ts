import { DescribeInstancesCommand, RunInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { CONTROL_PLANE_TAG, CONTROL_PLANE_TAG_VALUE, ProviderError } from '../../src/ports';
import { INSTALLATION_TAG } from '../../src/ec2';
import { FakeEc2 } from './fake-ec2';
import { DEPLOYMENT, INSTALLATION, failureOf, providerOn, request, setup } from './provider-setup';
import { ec2Error } from './sdk-errors';

const SUBNETS = { 'subnet-a': 'us-east-1a', 'subnet-b': 'us-east-1b' };

describe('Ec2NodeProvider.launchNode: the node name right after RunInstances (finding 7)', () => {
  it('retries a DescribeInstances NotFound for a just-launched instance instead of failing the launch', async () => {
    const { ec2, provider, delays } = setup({ subnetIds: ['subnet-a'] });
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0123', PrivateDnsName: '' }] });
    ec2
      .on(DescribeInstancesCommand)
      .rejectsOnce(ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-0123' does not exist"))
      .rejectsOnce(ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-0123' does not exist"))
      .resolves({ Reservations: [{ Instances: [{ InstanceId: 'i-0123', PrivateDnsName: 'ip-10-0-0-7.ec2.internal' }] }] });

    await expect(provider.launchNode(request())).resolves.toEqual({ instanceId: 'i-0123', nodeName: 'ip-10-0-0-7.ec2.internal' });
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(3);
    expect(delays.length).toBe(2);
  });

  it('answers "try again" (transient) when the instance stays invisible, and a retry gets the same instance by its token', async () => {
    const { ec2, provider, clock } = setup({ subnetIds: ['subnet-a'] });
    // An answer without the DNS name (as emulators give): the name has to be looked up.
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now, visibleAfterMs: 30_000, runAnswersWithoutDnsName: true }).install(ec2);

    const error = await failureOf(provider.launchNode(request()));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'InstanceNotVisible', transient: true });

    clock.advance(30_000);
    const launched = await provider.launchNode(request());
    expect(fake.live().map((i) => i.id)).toEqual([launched.instanceId]);
    expect(launched.nodeName).toMatch(/^ip-10-0-1-10\.ec2\.internal$/);
  });
});

describe('Ec2NodeProvider: instance metadata (finding 4)', () => {
  it('requires IMDSv2 tokens with a hop limit of 1, so pods cannot reach the node role', async () => {
    const { ec2, provider } = setup();
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0123', PrivateDnsName: 'ip-10-0-0-1.ec2.internal' }] });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    await provider.launchNode(request());

    expect(ec2.commandCalls(RunInstancesCommand)[0].args[0].input.MetadataOptions).toEqual({
      HttpEndpoint: 'enabled',
      HttpTokens: 'required',
      HttpPutResponseHopLimit: 1,
    });
  });
});

describe('Ec2NodeProvider: one installation among several in an account (finding 3)', () => {
  it('tags every instance and volume with the installation id', async () => {
    const { ec2, provider } = setup();
    ec2.on(RunInstancesCommand).resolves({ Instances: [{ InstanceId: 'i-0123', PrivateDnsName: 'ip-10-0-0-1.ec2.internal' }] });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    await provider.launchNode(request());

    const specs = ec2.commandCalls(RunInstancesCommand)[0].args[0].input.TagSpecifications ?? [];
    expect(specs.map((s) => s.ResourceType)).toEqual(['instance', 'volume']);
    for (const spec of specs) expect(spec.Tags).toContainEqual({ Key: INSTALLATION_TAG, Value: INSTALLATION });
  });

  it('lists for the sweep only the instances of this installation in this cluster', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    await provider.listManagedInstances();

    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input.Filters).toEqual([
      { Name: `tag:${CONTROL_PLANE_TAG}`, Values: [CONTROL_PLANE_TAG_VALUE] },
      { Name: `tag:${INSTALLATION_TAG}`, Values: [INSTALLATION] },
      { Name: 'tag:kubernetes.io/cluster/sim-cluster', Values: ['owned'] },
      { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
    ]);
  });

  it('never terminates another installation’s instance of a deployment with the same id', async () => {
    // Staging and production in one account and region, each with a deployment called dep-7f3a.
    const { ec2, client, clock, harness, provider: production } = setup();
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now }).install(ec2);
    const staging = providerOn(client, harness, { installationId: 'staging' });

    const theirs = await staging.launchNode(request());
    const ours = await production.launchNode(request());
    expect(ours.instanceId).not.toBe(theirs.instanceId);

    await expect(production.terminateDeployment(DEPLOYMENT)).resolves.toEqual([ours.instanceId]);
    expect(fake.live().map((i) => i.id)).toEqual([theirs.instanceId]);
    expect((await production.listManagedInstances()).map((i) => i.instanceId)).toEqual([]);
    expect((await staging.listManagedInstances()).map((i) => i.instanceId)).toEqual([theirs.instanceId]);
    expect(ec2.commandCalls(TerminateInstancesCommand).map((c) => c.args[0].input.InstanceIds)).toEqual([[ours.instanceId]]);
  });
});
