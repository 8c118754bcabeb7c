import { DescribeInstancesCommand, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { clientTokenFor } from '@simdeploy/domain';
import { ProviderError } from '../../src/ports';
import { subnetOrderFor } from '../../src/ec2';
import { FakeEc2 } from './fake-ec2';
import { failureOf, providerOn, request, setup } from './provider-setup';
import { ec2Error } from './sdk-errors';

/** Two zones; subnet-a2 shares subnet-a's zone. */
const SUBNETS = { 'subnet-a': 'us-east-1a', 'subnet-a2': 'us-east-1a', 'subnet-b': 'us-east-1b', 'subnet-c': 'us-east-1c' };

/** A deployment id whose preferred subnet is `subnet`, so a test knows where the walk starts. */
const deploymentPreferring = (subnet: string, subnets: readonly string[]): string => {
  for (let n = 0; ; n++) if (subnetOrderFor(`dep-${n}`, subnets)[0] === subnet) return `dep-${n}`;
};

const nodeOf = (deploymentId: string, role: 'simulator' | 'robots' = 'simulator') =>
  request({ deploymentId, role, clientToken: clientTokenFor(deploymentId, role, 0) });

describe('Ec2NodeProvider placement over subnets (finding 5)', () => {
  it('spreads deployments over the configured subnets, a deployment’s nodes together in one zone', async () => {
    const subnets = ['subnet-a', 'subnet-b', 'subnet-c'];
    const { ec2, provider, clock } = setup({ subnetIds: subnets });
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now }).install(ec2);

    for (let n = 0; n < 30; n++) {
      await provider.launchNode(nodeOf(`dep-${n}`, 'simulator'));
      await provider.launchNode(nodeOf(`dep-${n}`, 'robots'));
    }

    const perSubnet = new Map<string, number>();
    for (const i of fake.live()) perSubnet.set(i.subnetId ?? '', (perSubnet.get(i.subnetId ?? '') ?? 0) + 1);
    expect([...perSubnet.keys()].sort()).toEqual(subnets);
    for (const count of perSubnet.values()) expect(count).toBeGreaterThanOrEqual(10);
    for (let n = 0; n < 30; n++) {
      const zones = new Set(fake.live().filter((i) => i.tags.some((t) => t.Value === `dep-${n}`)).map((i) => i.zone));
      expect(zones.size).toBe(1);
    }
  });

  it('launches in another zone when the preferred one has no capacity', async () => {
    const subnets = ['subnet-a', 'subnet-b'];
    const { ec2, provider, clock } = setup({ subnetIds: subnets });
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now }).install(ec2);
    fake.zoneAnswers.set('us-east-1a', 'InsufficientInstanceCapacity');
    const deploymentId = deploymentPreferring('subnet-a', subnets);

    const launched = await provider.launchNode(nodeOf(deploymentId));

    expect(fake.instances.get(launched.instanceId)?.zone).toBe('us-east-1b');
    expect(ec2.commandCalls(RunInstancesCommand).map((c) => c.args[0].input.SubnetId)).toEqual(['subnet-a', 'subnet-b']);
  });

  it('tries the other zones when the type is Unsupported in one, and fails for good only when no zone offers it', async () => {
    const subnets = ['subnet-a', 'subnet-b'];
    const { ec2, provider, clock } = setup({ subnetIds: subnets });
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now }).install(ec2);
    fake.zoneAnswers.set('us-east-1a', 'Unsupported');
    const deploymentId = deploymentPreferring('subnet-a', subnets);

    await expect(provider.launchNode(nodeOf(deploymentId))).resolves.toMatchObject({ instanceId: expect.stringMatching(/^i-/) });

    fake.zoneAnswers.set('us-east-1b', 'Unsupported');
    const error = await failureOf(provider.launchNode(nodeOf(`${deploymentId}-x`)));
    expect(error).toMatchObject({ code: 'Unsupported', transient: false });
    expect(error.message).toMatch(/subnet-a.*us-east-1a.*subnet-b.*us-east-1b|subnet-b.*us-east-1b.*subnet-a.*us-east-1a/s);
  });

  it('answers capacity missing everywhere quickly, as a transient error the lifecycle retries later', async () => {
    const subnets = ['subnet-a', 'subnet-b', 'subnet-c'];
    const { ec2, provider, clock, delays } = setup({ subnetIds: subnets });
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now }).install(ec2);
    for (const zone of ['us-east-1a', 'us-east-1b', 'us-east-1c']) fake.zoneAnswers.set(zone, 'InsufficientInstanceCapacity');

    const error = await failureOf(provider.launchNode(nodeOf('dep-full')));

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'InsufficientInstanceCapacity', transient: true });
    for (const subnet of subnets) expect(error.message).toContain(subnet);
    // One try per subnet and no pause: waiting for capacity (minutes) is the lifecycle's, between calls.
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(3);
    expect(delays).toEqual([]);

    fake.zoneAnswers.set('us-east-1c', 'ok');
    await expect(provider.launchNode(nodeOf('dep-full'))).resolves.toMatchObject({ instanceId: expect.stringMatching(/^i-/) });
    expect(fake.live()).toHaveLength(1);
  });

  it('falls back to another subnet of the same zone (no free addresses) under that subnet’s own client token', async () => {
    const subnets = ['subnet-a', 'subnet-a2'];
    const { ec2, provider, clock } = setup({ subnetIds: subnets });
    // DescribeInstances does not show the new instance yet: only RunInstances answers consistently.
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now, visibleAfterMs: 60_000 }).install(ec2);
    fake.zoneAnswers.set('subnet-a', 'InsufficientFreeAddressesInSubnet');
    const deploymentId = deploymentPreferring('subnet-a', subnets);

    const first = await provider.launchNode(nodeOf(deploymentId));
    // A redelivered command launches again: the same machine, no IdempotentParameterMismatch.
    fake.zoneAnswers.delete('subnet-a');
    const again = await provider.launchNode(nodeOf(deploymentId));

    expect(again).toEqual(first);
    expect(fake.live()).toHaveLength(1);
    const tokens = ec2.commandCalls(RunInstancesCommand).map((c) => [c.args[0].input.SubnetId, c.args[0].input.ClientToken]);
    expect(new Set(tokens.map(([, token]) => token)).size).toBe(2);
    for (const [, token] of tokens) expect(token?.length).toBeLessThanOrEqual(64);
  });

  it('never launches a second machine when an answer was lost in one zone and the preferred zone has capacity again', async () => {
    const subnets = ['subnet-a', 'subnet-b'];
    // One attempt per call, as the workers run it (the lifecycle retries).
    const { ec2, provider, clock } = setup({ subnetIds: subnets, retry: { maxAttempts: 1 } });
    // Zonal idempotency: the same token in another zone would launch a second instance.
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now, visibleAfterMs: 60_000 }).install(ec2);
    fake.zoneAnswers.set('us-east-1a', 'InsufficientInstanceCapacity');
    fake.loseNextRunAnswers = 1;
    const deploymentId = deploymentPreferring('subnet-a', subnets);

    // subnet-a: no capacity; subnet-b: launched, but the answer is lost.
    await expect(provider.launchNode(nodeOf(deploymentId))).rejects.toMatchObject({ transient: true });
    expect(fake.live()).toHaveLength(1);

    fake.zoneAnswers.delete('us-east-1a');
    const launched = await provider.launchNode(nodeOf(deploymentId));

    expect(fake.live().map((i) => i.id)).toEqual([launched.instanceId]);
    expect(fake.instances.get(launched.instanceId)?.zone).toBe('us-east-1b');
  });

  it('finds the machine another worker launched in a fallback zone instead of launching one in the preferred zone', async () => {
    const subnets = ['subnet-a', 'subnet-b'];
    const { ec2, client, clock, harness, provider: crashed } = setup({ subnetIds: subnets, retry: { maxAttempts: 1 } });
    const fake = new FakeEc2({ subnets: SUBNETS, now: clock.now }).install(ec2);
    fake.zoneAnswers.set('us-east-1a', 'InsufficientInstanceCapacity');
    fake.loseNextRunAnswers = 1;
    const deploymentId = deploymentPreferring('subnet-a', subnets);
    await expect(crashed.launchNode(nodeOf(deploymentId))).rejects.toMatchObject({ transient: true });

    // The command is redelivered to another worker after the ack wait; zone a has capacity again.
    clock.advance(30_000);
    fake.zoneAnswers.delete('us-east-1a');
    const other = providerOn(client, harness, { subnetIds: subnets });
    const launched = await other.launchNode(nodeOf(deploymentId));

    expect(fake.live().map((i) => i.id)).toEqual([launched.instanceId]);
    expect(ec2.commandCalls(DescribeInstancesCommand).length).toBeGreaterThan(0);
  });

  it('passes a refused request through at once when it is not about capacity', async () => {
    const { ec2, provider } = setup();
    ec2.on(RunInstancesCommand).rejects(ec2Error('InvalidAMIID.NotFound', 400, "The image id '[ami-0abc]' does not exist"));
    ec2.on(DescribeInstancesCommand).resolves({ Reservations: [] });

    await expect(provider.launchNode(request())).rejects.toMatchObject({ code: 'InvalidAMIID.NotFound', transient: false });
    expect(ec2.commandCalls(RunInstancesCommand)).toHaveLength(1);
  });
});
