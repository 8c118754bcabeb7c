import { DescribeInstanceStatusCommand, DescribeInstancesCommand, type InstanceStatus } from '@aws-sdk/client-ec2';
import type { NodeCheckRequest } from '../../src/ports';
import { setup } from './provider-setup';
import { ec2Error } from './sdk-errors';

const status = (id: string, state: string, instance = 'ok', system = 'ok', details: InstanceStatus['InstanceStatus'] = {}): InstanceStatus => ({
  InstanceId: id,
  InstanceState: { Name: state as never, Code: 0 },
  InstanceStatus: { Status: instance as never, ...details },
  SystemStatus: { Status: system as never },
});

const requests = (deployments: number, nodesEach: number): NodeCheckRequest[] =>
  Array.from({ length: deployments }, (_, d) => ({
    deploymentId: `dep-${d}`,
    nodes: Array.from({ length: nodesEach }, (_, n) => ({ instanceId: `i-${d}x${n}`, nodeName: `ip-10-0-${d}-${n}` })),
  }));

describe('Ec2NodeProvider.checkNodesBatch (finding 6)', () => {
  it('checks many deployments with one DescribeInstanceStatus per 100 instances, whatever the number waiting', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).callsFake(async ({ InstanceIds }: { InstanceIds: string[] }) => ({
      InstanceStatuses: InstanceIds.map((id) => (id === 'i-3x1' ? status(id, 'running', 'initializing', 'ok') : status(id, 'running'))),
    }));
    const waiting = requests(75, 2);

    const answers = await provider.checkNodesBatch(waiting);

    const calls = ec2.commandCalls(DescribeInstanceStatusCommand).map((c) => c.args[0].input);
    expect(calls.map((c) => c.InstanceIds?.length)).toEqual([100, 50]);
    expect(calls.every((c) => c.IncludeAllInstances === true)).toBe(true);
    expect(answers.size).toBe(75);
    expect(answers.get('dep-0')).toEqual({ state: 'ready' });
    expect(answers.get('dep-3')).toMatchObject({ state: 'pending', reason: { code: 'StatusChecksPending' } });
  });

  it('fails a deployment whose instance status check is impaired, with the check’s details, at once', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [
        status('i-0x0', 'running', 'impaired', 'ok', {
          Details: [{ Name: 'reachability', Status: 'failed', ImpairedSince: new Date('2026-03-01T10:02:00Z') }],
        }),
        status('i-1x0', 'running'),
      ],
    });

    const answers = await provider.checkNodesBatch(requests(2, 1));

    expect(answers.get('dep-0')).toEqual({
      state: 'failed',
      error: {
        code: 'InstanceImpaired',
        message: 'i-0x0: instance status check impaired (reachability failed since 2026-03-01T10:02:00.000Z)',
        transient: false,
      },
    });
    expect(answers.get('dep-1')).toEqual({ state: 'ready' });
  });

  it('calls a failed system status check (AWS hardware) impaired too, and worth another launch', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({ InstanceStatuses: [status('i-0x0', 'running', 'ok', 'impaired')] });

    await expect(provider.checkNodes('dep-0', requests(1, 1)[0].nodes)).resolves.toMatchObject({
      state: 'failed',
      error: { code: 'InstanceImpaired', message: expect.stringContaining('system status check impaired'), transient: true },
    });
  });

  it('keeps a deployment whose fresh instance EC2 does not know yet pending, and still answers the others', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).callsFake(async ({ InstanceIds }: { InstanceIds: string[] }) => {
      if (InstanceIds.includes('i-1x0')) throw ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-1x0' does not exist");
      return { InstanceStatuses: InstanceIds.map((id) => status(id, 'running')) };
    });

    const answers = await provider.checkNodesBatch(requests(3, 1));

    expect(answers.get('dep-0')).toEqual({ state: 'ready' });
    expect(answers.get('dep-1')).toMatchObject({ state: 'pending', reason: { code: 'InstanceNotVisible' } });
    expect(answers.get('dep-2')).toEqual({ state: 'ready' });
    expect(ec2.commandCalls(DescribeInstanceStatusCommand)).toHaveLength(2);
  });

  it('leaves out the deployments of a throttled call, so they are asked again next round', async () => {
    const { ec2, provider } = setup({ retry: { maxAttempts: 1 } });
    ec2
      .on(DescribeInstanceStatusCommand)
      .callsFakeOnce(async ({ InstanceIds }: { InstanceIds: string[] }) => ({ InstanceStatuses: InstanceIds.map((id) => status(id, 'running')) }))
      .rejects(ec2Error('RequestLimitExceeded', 503, 'Request limit exceeded.'));

    const answers = await provider.checkNodesBatch(requests(60, 2));

    expect(answers.size).toBe(50);
    expect(answers.has('dep-49')).toBe(true);
    expect(answers.has('dep-50')).toBe(false);
  });

  it('reports why a terminated instance stopped, looked up once for all deployments', async () => {
    const { ec2, provider } = setup();
    ec2.on(DescribeInstanceStatusCommand).resolves({
      InstanceStatuses: [status('i-0x0', 'terminated', 'not-applicable', 'not-applicable'), status('i-1x0', 'stopped', 'not-applicable', 'not-applicable')],
    });
    ec2.on(DescribeInstancesCommand).resolves({
      Reservations: [
        { Instances: [{ InstanceId: 'i-0x0', StateReason: { Code: 'Server.InsufficientInstanceCapacity', Message: 'Server.InsufficientInstanceCapacity: Insufficient capacity.' } }] },
        { Instances: [{ InstanceId: 'i-1x0', StateReason: { Code: 'Client.UserInitiatedShutdown', Message: 'Client.UserInitiatedShutdown: User initiated shutdown' } }] },
      ],
    });

    const answers = await provider.checkNodesBatch(requests(2, 1));

    expect(answers.get('dep-0')).toMatchObject({ state: 'failed', error: { code: 'InstanceNotRunning', transient: true } });
    expect(answers.get('dep-1')).toMatchObject({ state: 'failed', error: { code: 'InstanceNotRunning', transient: false } });
    expect(ec2.commandCalls(DescribeInstancesCommand)).toHaveLength(1);
  });
});
