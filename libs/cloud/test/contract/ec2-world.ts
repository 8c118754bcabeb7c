import { EC2Client } from '@aws-sdk/client-ec2';
import { mockClient, type AwsClientStub } from 'aws-sdk-client-mock';
import type { Ec2NodeProvider, Ec2NodeProviderConfig } from '../../src/ec2';
import { FakeEc2 } from '../ec2/fake-ec2';
import { providerOn, type TestClock } from '../ec2/provider-setup';

const SUBNETS = { 'subnet-a': 'us-east-1a', 'subnet-b': 'us-east-1b', 'subnet-c': 'us-east-1c', 'subnet-d': 'us-east-1d' };
const FULL_ZONES = ['us-east-1c', 'us-east-1d'];
/**
 * EC2 shows a new instance to Describe* and TerminateInstances after "a few seconds": here
 * within the provider's consistency budget (4 s), so that one call right after a launch can
 * still wait it out, as it does in production.
 */
const VISIBLE_AFTER_MS = 2_000;
const BOOT_MS = 30_000;
const STATUS_CHECKS_MS = 60_000;

/**
 * One EC2 account and region for the contract: the FakeEc2 double behind aws-sdk-client-mock,
 * with eventual consistency, zonal client tokens and status checks on a clock that moves only
 * when a provider sleeps (its backoff) or the fixture says so. Every provider() has its own
 * EC2 client and its own memory of launches, as a separate process would.
 */
export function ec2World(clock: TestClock = defaultClock()) {
  const unbootableImage = 'ami-0unbootable';
  const fake = new FakeEc2({
    subnets: SUBNETS,
    now: clock.now,
    visibleAfterMs: VISIBLE_AFTER_MS,
    bootMs: BOOT_MS,
    statusChecksMs: STATUS_CHECKS_MS,
    unbootableImages: [unbootableImage],
  });
  for (const zone of FULL_ZONES) fake.zoneAnswers.set(zone, 'InsufficientInstanceCapacity');
  const stubs: AwsClientStub<EC2Client>[] = [];

  const provider = (config: Partial<Ec2NodeProviderConfig> = {}): Ec2NodeProvider => {
    const client = new EC2Client({ region: 'us-east-1' });
    const stub = mockClient(client);
    stubs.push(stub);
    fake.install(stub);
    return providerOn(client, { delays: [], clock }, config);
  };

  return {
    fake,
    clock,
    provider,
    /** Subnets whose zones have no capacity left for any instance type. */
    fullSubnets: Object.entries(SUBNETS).flatMap(([subnet, zone]) => (FULL_ZONES.includes(zone) ? [subnet] : [])),
    /** An image whose machines boot, but never pass their instance status check. */
    unbootableImage,
    /** Long enough for what was launched to become visible, boot and pass its status checks. */
    progress: () => clock.advance(VISIBLE_AFTER_MS + BOOT_MS + STATUS_CHECKS_MS),
    catchUp: () => clock.advance(VISIBLE_AFTER_MS),
    teardown: async () => {
      for (const stub of stubs) stub.restore();
    },
  };
}

function defaultClock(): TestClock {
  let now = Date.parse('2030-01-01T00:00:00Z');
  return { now: () => now, advance: (ms) => void (now += ms) };
}
