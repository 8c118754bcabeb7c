import { DescribeInstanceStatusCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { mockClient } from 'aws-sdk-client-mock';
import { FakeEc2 } from './fake-ec2';

/** The double itself, through the real SDK client: its boot and status checks must read as EC2's do. */
describe('the EC2 double, booting', () => {
  const world = (unbootableImages: string[] = []) => {
    const client = new EC2Client({ region: 'us-east-1' });
    let now = Date.parse('2030-01-01T00:00:00Z');
    const fake = new FakeEc2({ subnets: { 'subnet-a': 'us-east-1a' }, now: () => now, bootMs: 30_000, statusChecksMs: 60_000, unbootableImages }).install(
      mockClient(client),
    );
    const launch = async (imageId = 'ami-0abc') =>
      (await client.send(new RunInstancesCommand({ MinCount: 1, MaxCount: 1, ImageId: imageId, SubnetId: 'subnet-a', ClientToken: imageId }))).Instances?.[0]
        ?.InstanceId as string;
    const status = async (id: string) =>
      (await client.send(new DescribeInstanceStatusCommand({ InstanceIds: [id], IncludeAllInstances: true }))).InstanceStatuses?.[0];
    return { fake, launch, status, advance: (ms: number) => void (now += ms) };
  };

  it('runs an instance after bootMs, with its checks initializing, and passes them statusChecksMs later', async () => {
    const { launch, status, advance } = world();
    const id = await launch();
    expect(await status(id)).toMatchObject({ InstanceState: { Name: 'pending', Code: 0 }, InstanceStatus: { Status: 'not-applicable' } });

    advance(30_000);
    expect(await status(id)).toMatchObject({
      InstanceState: { Name: 'running', Code: 16 },
      InstanceStatus: { Status: 'initializing', Details: [{ Name: 'reachability', Status: 'initializing' }] },
      SystemStatus: { Status: 'initializing' },
    });

    advance(60_000);
    expect(await status(id)).toMatchObject({
      InstanceStatus: { Status: 'ok', Details: [{ Name: 'reachability', Status: 'passed' }] },
      SystemStatus: { Status: 'ok', Details: [{ Name: 'reachability', Status: 'passed' }] },
    });
  });

  it('fails the instance status check of an unbootable image, saying since when, and keeps the system check ok', async () => {
    const { launch, status, advance, fake } = world(['ami-0broken']);
    const id = await launch('ami-0broken');
    advance(90_000);
    const checked = await status(id);
    expect(checked).toMatchObject({
      InstanceState: { Name: 'running' },
      InstanceStatus: { Status: 'impaired', Details: [{ Name: 'reachability', Status: 'failed' }] },
      SystemStatus: { Status: 'ok' },
    });
    expect(checked?.InstanceStatus?.Details?.[0]?.ImpairedSince).toEqual(new Date(Date.parse('2030-01-01T00:00:00Z') + 90_000));
    expect(fake.instances.get(id)?.imageId).toBe('ami-0broken');
  });
});
