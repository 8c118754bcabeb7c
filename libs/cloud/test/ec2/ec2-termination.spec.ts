import { DescribeInstancesCommand, TerminateInstancesCommand } from '@aws-sdk/client-ec2';
import { clientTokenFor } from '@simdeploy/domain';
import { ProviderError } from '../../src/ports';
import { FakeEc2 } from './fake-ec2';
import { DEPLOYMENT, failureOf, request, setup } from './provider-setup';
import { ec2Error } from './sdk-errors';

const SUBNETS = { 'subnet-a': 'us-east-1a', 'subnet-b': 'us-east-1b' };

describe('Ec2NodeProvider.terminateInstances right after a launch (eventual consistency)', () => {
  it('does not count a fresh instance EC2 calls NotFound as terminated: it retries until it can terminate it', async () => {
    const { ec2, provider, clock } = setup();
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now, visibleAfterMs: 2_500 }).install(ec2);
    const { instanceId } = await provider.launchNode(request());

    // The launch overtaken by a stop gives the machine back seconds after launching it.
    await provider.terminateInstances(DEPLOYMENT, [instanceId]);

    expect(fake.instances.get(instanceId)?.state).toBe('terminated');
    expect(fake.live()).toEqual([]);
    // Each retry sent TerminateInstances again; the last one reached the instance.
    expect(ec2.commandCalls(TerminateInstancesCommand).length).toBeGreaterThan(1);
  });

  it('asks to be called again (transient) when the instance stays invisible for the whole call, then terminates it later', async () => {
    const { ec2, provider, clock } = setup();
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now, visibleAfterMs: 60_000 }).install(ec2);
    const { instanceId } = await provider.launchNode(request());
    const started = clock.now();

    const error = await failureOf(provider.terminateInstances(DEPLOYMENT, [instanceId]));

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'InstanceNotVisible', transient: true });
    expect(error.message).toContain(instanceId);
    // One call stays well inside the lifecycle's call timeout (10 s).
    expect(clock.now() - started).toBeLessThanOrEqual(5_000);
    expect(fake.live()).toHaveLength(1);

    clock.advance(60_000);
    await provider.terminateInstances(DEPLOYMENT, [instanceId]);
    expect(fake.live()).toEqual([]);
  });

  it('counts NotFound as done once DescribeInstances shows the instance terminated', async () => {
    const { ec2, provider } = setup();
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-0done' does not exist"));
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [{ Instances: [{ InstanceId: 'i-0done', State: { Name: 'terminated', Code: 48 } }] }],
    });

    await expect(provider.terminateInstances(DEPLOYMENT, ['i-0done'])).resolves.toBeUndefined();
    expect(ec2.commandCalls(DescribeInstancesCommand)[0].args[0].input).toEqual({ Filters: [{ Name: 'instance-id', Values: ['i-0done'] }] });
  });

  it('counts an id EC2 has not known for the whole grace period as gone (terminated over an hour ago)', async () => {
    const { ec2, provider, clock } = setup({ consistency: { budgetMs: 3_000, graceMs: 300_000 } });
    ec2.on(TerminateInstancesCommand).rejects(ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-0old' does not exist"));
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    await expect(provider.terminateInstances(DEPLOYMENT, ['i-0old'])).rejects.toMatchObject({ code: 'InstanceNotVisible', transient: true });
    clock.advance(300_000);
    await expect(provider.terminateInstances(DEPLOYMENT, ['i-0old'])).resolves.toBeUndefined();
  });

  it('still terminates the known ids of a batch at once and waits only for the unknown one', async () => {
    const { ec2, provider, clock } = setup();
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now }).install(ec2);
    const old = await provider.launchNode(request({ deploymentId: 'dep-old', clientToken: clientTokenFor('dep-old', 'simulator', 0) }));
    clock.advance(600_000);
    const fresh = await provider.launchNode(request());
    const fakeInvisible = fake.instances.get(fresh.instanceId);
    if (fakeInvisible) fakeInvisible.launchedAt = clock.now() + 1_500; // becomes visible 1.5 s from now

    await provider.terminateInstances(DEPLOYMENT, [old.instanceId, fresh.instanceId]);

    expect(fake.live()).toEqual([]);
  });

  it('stops waiting when aborted and rejects with the abort reason', async () => {
    const { ec2, provider } = setup();
    const controller = new AbortController();
    ec2.on(TerminateInstancesCommand).callsFake(async () => {
      controller.abort(new Error('stop requested'));
      throw ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-0new' does not exist");
    });
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    await expect(provider.terminateInstances(DEPLOYMENT, ['i-0new'], controller.signal)).rejects.toThrow('stop requested');
  });
});
