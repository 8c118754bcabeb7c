import type { Actor, NodePlan, SimulationSpec } from './events';
import { HistoryEvent, instanceIntervals, machineSeconds, stateAt, statusIntervals } from './history';
import { ErrorStatus, Status } from './status';

const alice: Actor = { subject: 'alice', roles: [] };
const spec: SimulationSpec = { world: 'w.sdf', simulatorImage: 'gz:harmonic', robots: [{ name: 'r0', image: 'robot:1' }], nodeInstanceType: 'g4dn.xlarge', labels: {} };
const FAULT = { code: 'InsufficientInstanceCapacity', message: 'no capacity', transient: false };

/** 2026-03-01 at the given hh:mm:ss, UTC. */
const t = (hms: string) => `2026-03-01T${hms}.000Z`;
const node = (role: 'simulator' | 'robots', instanceType: string): NodePlan => ({ role, index: 0, clientToken: `tok-${role}`, instanceType });
const requested = (id: string, owner: string, at: string): HistoryEvent => ({
  type: 'SimulationRequested',
  data: { deploymentId: id, owner, requestedAt: t(at), requestedBy: { subject: owner, roles: [] }, spec, provider: 'aws' },
});
const ev = (type: string, at: string, data: object = {}): HistoryEvent => ({ type, data: { at: t(at), ...data } });
const launched = (role: 'simulator' | 'robots', instanceId: string, at: string) =>
  ev('InstanceLaunched', at, { role, index: 0, clientToken: `tok-${role}`, instanceId, nodeName: `ip-${role}` });
const failure = { stage: Status.LaunchingNodes, step: 'waitNodesReady', error: FAULT, attempt: 3 };

/** alice's launch fails waiting for its nodes and is rolled back. */
const rolledBack: HistoryEvent[] = [
  requested('d1', 'alice', '10:00:00'),
  ev('NodesLaunchStarted', '10:00:05', { nodes: [node('simulator', 'g4dn.xlarge'), node('robots', 'c5.large')] }),
  launched('simulator', 'i-a', '10:01:00'),
  launched('robots', 'i-b', '10:01:30'),
  ev('LaunchFailed', '10:05:00', failure),
  ev('NodesDeletionStarted', '10:05:10'),
  ev('InstancesTerminationStarted', '10:05:20'),
  ev('SimulationTerminated', '10:06:00'),
];

/** bob's runs and is stopped by him. */
const stopped: HistoryEvent[] = [
  requested('d2', 'bob', '10:02:00'),
  ev('NodesLaunchStarted', '10:02:10', { nodes: [node('simulator', 'g4dn.xlarge')] }),
  launched('simulator', 'i-c', '10:03:00'),
  ev('PodsLaunchStarted', '10:04:00', { pods: [], services: [], networkPolicies: [] }),
  ev('SimulationRunning', '10:10:00'),
  ev('StopRequested', '10:30:00', { by: { subject: 'bob', roles: [] }, reason: 'user' }),
  ev('PodsDeletionStarted', '10:30:05'),
  ev('NodesDeletionStarted', '10:31:00'),
  ev('InstancesTerminationStarted', '10:31:30'),
  ev('SimulationTerminated', '10:32:00'),
];

/** carol's still runs. */
const running: HistoryEvent[] = [
  requested('d3', 'carol', '10:49:00'),
  ev('NodesLaunchStarted', '10:49:30', { nodes: [node('simulator', 'g4dn.xlarge')] }),
  launched('simulator', 'i-d', '10:50:00'),
];

describe('status intervals', () => {
  it('give an interval per change of status or error status, the last one open, for a failed launch rolled back', () => {
    expect(statusIntervals(rolledBack)).toEqual([
      { status: Status.Pending, errorStatus: null, from: t('10:00:00'), to: t('10:00:05'), durationSeconds: 5 },
      { status: Status.LaunchingNodes, errorStatus: null, from: t('10:00:05'), to: t('10:05:00'), durationSeconds: 295 },
      { status: Status.LaunchingNodes, errorStatus: ErrorStatus.InitializationFailed, from: t('10:05:00'), to: t('10:05:10'), durationSeconds: 10 },
      { status: Status.DeletingNodes, errorStatus: ErrorStatus.InitializationFailed, from: t('10:05:10'), to: t('10:05:20'), durationSeconds: 10 },
      { status: Status.TerminatingInstances, errorStatus: ErrorStatus.InitializationFailed, from: t('10:05:20'), to: t('10:06:00'), durationSeconds: 40 },
      { status: Status.Terminated, errorStatus: ErrorStatus.InitializationFailed, from: t('10:06:00'), to: null, durationSeconds: null },
    ]);
  });

  it('ignore events that change neither, and records that are not deployment events', () => {
    const intervals = statusIntervals([...running, { type: 'SomethingElse', data: {} }, ev('WaitingReported', '10:51:00', { stage: Status.LaunchingNodes, step: 's', code: 'c', message: 'm' })]);
    expect(intervals.map((i) => [i.status, i.from, i.to])).toEqual([
      [Status.Pending, t('10:49:00'), t('10:49:30')],
      [Status.LaunchingNodes, t('10:49:30'), null],
    ]);
  });

  it('take the time an event carries over the time the store recorded it, and the store time when the event has none', () => {
    const recorded = rolledBack.slice(0, 2).map((e, i) => ({ ...e, recordedAt: t(`11:00:0${i}`) }));
    expect(statusIntervals(recorded)[0]).toMatchObject({ from: t('10:00:00'), to: t('10:00:05') });
    const untimed = { type: 'NodesLaunchStarted', data: { nodes: [] }, recordedAt: t('10:00:07') };
    expect(statusIntervals([rolledBack[0] as HistoryEvent, untimed])[0]).toMatchObject({ to: t('10:00:07'), durationSeconds: 7 });
  });
});

describe('the state at a time', () => {
  it('is null before the request, and the fold of the events at or before the time after it', () => {
    expect(stateAt(rolledBack, t('09:59:59'))).toBeNull();
    expect(stateAt(rolledBack, t('10:00:00'))).toMatchObject({ status: Status.Pending, errorStatus: null });
    expect(stateAt(rolledBack, t('10:04:59'))).toMatchObject({ status: Status.LaunchingNodes, errorStatus: null });
    const failed = stateAt(rolledBack, t('10:05:00'));
    expect(failed).toMatchObject({ status: Status.LaunchingNodes, errorStatus: ErrorStatus.InitializationFailed });
    expect(failed?.nodes.map((n) => n.instanceId)).toEqual(['i-a', 'i-b']);
    expect(stateAt(rolledBack, Date.parse(t('12:00:00')))).toMatchObject({ status: Status.Terminated, terminatedAt: t('10:06:00') });
  });
});

describe('instance intervals', () => {
  it('run from each launch to the termination that ended the rollback or the stop', () => {
    expect(instanceIntervals(rolledBack)).toEqual([
      { deploymentId: 'd1', owner: 'alice', team: null, provider: 'aws', instanceType: 'g4dn.xlarge', instanceId: 'i-a', launchedAt: t('10:01:00'), terminatedAt: t('10:06:00') },
      { deploymentId: 'd1', owner: 'alice', team: null, provider: 'aws', instanceType: 'c5.large', instanceId: 'i-b', launchedAt: t('10:01:30'), terminatedAt: t('10:06:00') },
    ]);
    expect(instanceIntervals(stopped).map((i) => [i.instanceId, i.launchedAt, i.terminatedAt])).toEqual([['i-c', t('10:03:00'), t('10:32:00')]]);
    expect(instanceIntervals(running).map((i) => i.terminatedAt)).toEqual([null]);
  });

  it('end a late instance where its own termination is recorded, and a swept one at the sweep', () => {
    const events = [
      requested('d4', 'alice', '10:00:00'),
      ev('NodesLaunchStarted', '10:00:01', { nodes: [node('simulator', 'g4dn.xlarge'), node('robots', 'c5.large')] }),
      launched('simulator', 'i-e', '10:01:00'),
      ev('StopRequested', '10:02:00', { by: alice, reason: 'user' }),
      ev('PodsDeletionStarted', '10:02:01'),
      ev('NodesDeletionStarted', '10:02:02'),
      ev('InstancesTerminationStarted', '10:02:03'),
      ev('SimulationTerminated', '10:03:00'),
      // The robots' launch finishes after the cleanup: recorded late, terminated on its own.
      launched('robots', 'i-f', '10:04:00'),
      ev('InstancesTerminated', '10:05:00', { instanceIds: ['i-f', 'i-unknown'] }),
      // The sweep later found i-e still there: it ran until the sweep removed it.
      ev('OrphanSwept', '10:20:00', { provider: 'aws', kind: 'instance', resourceId: 'i-e', reason: 'deployment-terminated', dryRun: false }),
      ev('OrphanSwept', '10:30:00', { provider: 'aws', kind: 'instance', resourceId: 'i-f', reason: 'deployment-terminated', dryRun: true }),
    ];
    expect(instanceIntervals(events).map((i) => [i.instanceId, i.launchedAt, i.terminatedAt])).toEqual([
      ['i-e', t('10:01:00'), t('10:20:00')],
      ['i-f', t('10:04:00'), t('10:05:00')],
    ]);
  });
});

describe('machine-seconds', () => {
  const all = [...instanceIntervals(rolledBack), ...instanceIntervals(stopped), ...instanceIntervals(running)];

  it('sum each owner and instance type over the period', () => {
    // i-a 10:01:00-10:06:00 = 300 s, i-b 10:01:30-10:06:00 = 270 s, i-c 10:03-10:32 = 1740 s, i-d 10:50 to now (11:10) clipped at 11:00 = 600 s.
    expect(machineSeconds(all, t('10:00:00'), t('11:00:00'), t('11:10:00'))).toEqual([
      { owner: 'alice', instanceType: 'c5.large', machineSeconds: 270, instances: 1 },
      { owner: 'alice', instanceType: 'g4dn.xlarge', machineSeconds: 300, instances: 1 },
      { owner: 'bob', instanceType: 'g4dn.xlarge', machineSeconds: 1740, instances: 1 },
      { owner: 'carol', instanceType: 'g4dn.xlarge', machineSeconds: 600, instances: 1 },
    ]);
  });

  it('clip intervals that the period cuts, and run an open one to now when now is earlier than the end', () => {
    // 10:03:00-10:05:00: i-a, i-b and i-c each ran the whole 120 s.
    expect(machineSeconds(all, t('10:03:00'), t('10:05:00'), t('11:10:00'))).toEqual([
      { owner: 'alice', instanceType: 'c5.large', machineSeconds: 120, instances: 1 },
      { owner: 'alice', instanceType: 'g4dn.xlarge', machineSeconds: 120, instances: 1 },
      { owner: 'bob', instanceType: 'g4dn.xlarge', machineSeconds: 120, instances: 1 },
    ]);
    // 10:05:30-10:40:00: i-a and i-b 30 s each, i-c 10:05:30-10:32:00 = 1590 s.
    expect(machineSeconds(all, t('10:05:30'), t('10:40:00'), t('11:10:00')).map((r) => r.machineSeconds)).toEqual([30, 30, 1590]);
    // carol's open interval: 10:50 to now (10:55:00.250) inside a period ending at noon.
    expect(machineSeconds(all, t('10:45:00'), t('12:00:00'), '2026-03-01T10:55:00.250Z')).toEqual([
      { owner: 'carol', instanceType: 'g4dn.xlarge', machineSeconds: 300.25, instances: 1 },
    ]);
  });

  it('leave out machines that ran none of the period, and give nothing for a period before any', () => {
    expect(machineSeconds(all, t('10:33:00'), t('10:50:00'), t('11:10:00'))).toEqual([]);
    expect(machineSeconds(all, t('09:00:00'), t('10:00:00'), t('11:10:00'))).toEqual([]);
  });
});
