import { DomainError, IllegalTransitionError, NotFoundError, ValidationError } from '../errors';
import { SimDeploymentCommand, command } from './commands';
import { Actor, SimDeploymentEvent, SimulationSpec } from './events';
import { decide, workOwner } from './decide';
import { clientTokenFor } from './plan';
import { fold } from './state';
import { ALL_STATUSES, ErrorStatus, Status, TRANSITIONS } from './status';
import { given } from '../testing';

const alice: Actor = { subject: 'alice', roles: [] };
const admin: Actor = { subject: 'root', roles: ['admin'] };
const launcher: Actor = { subject: 'service:launcher', roles: ['service'] };
const ID = 'd6c1c2a0-1b2c-4d5e-8f90-a1b2c3d4e5f6';
const spec: SimulationSpec = {
  world: 'warehouse.sdf',
  simulatorImage: 'gz:harmonic',
  robots: [{ name: 'x1', image: 'robot:1' }],
  nodeInstanceType: 'g4dn.xlarge',
  labels: { team: 'nav' },
};

let clock = 0;
const tick = (): string => new Date(Date.UTC(2026, 10, 28, 0, 0, clock++)).toISOString();
type Data<T extends SimDeploymentCommand['type']> = Extract<SimDeploymentCommand, { type: T }>['data'];
const cmd = <T extends SimDeploymentCommand['type']>(type: T, data: Data<T>, by: Actor = launcher): SimDeploymentCommand =>
  command(type, data as never, { now: tick(), by });

const C = {
  launch: () => cmd('RequestLaunch', { deploymentId: ID, owner: 'alice', spec, provider: 'local' }, alice),
  reject: () => cmd('RejectLaunch', { reason: 'quota exceeded' }),
  nodes: () => cmd('StartLaunchingNodes', {}),
  instance: (role: 'simulator' | 'robots', instanceId = `i-${role}`) =>
    cmd('RecordInstance', { role, index: 0, instanceId, nodeName: `node-${role}` }),
  pods: () => cmd('StartLaunchingPods', {}),
  workload: () => cmd('RecordWorkloadCreated', {}),
  running: () => cmd('MarkRunning', {}),
  stop: (by: Actor = alice) => cmd('RequestStop', { reason: 'user' }, by),
  deletePods: () => cmd('StartDeletingPods', {}),
  deleteNodes: () => cmd('StartDeletingNodes', {}),
  terminateInstances: () => cmd('StartTerminatingInstances', {}),
  terminated: () => cmd('MarkTerminated', {}),
  fail: (stage: Status, source: 'worker' | 'error-handler' = 'worker') =>
    cmd('RecordFailure', {
      source,
      stage,
      step: 'step',
      error: { code: 'InsufficientInstanceCapacity', message: 'no capacity', transient: true },
      attempt: 3,
    }),
  retry: () => cmd('RequestCleanupRetry', {}, admin),
  resolve: (comment = 'instances removed by hand') => cmd('ResolveAdminReview', { comment }, admin),
};

/** Runs commands through decide, failing the test if any of them is refused. */
function history(...commands: SimDeploymentCommand[]): SimDeploymentEvent[] {
  const events: SimDeploymentEvent[] = [];
  for (const c of commands) {
    const result = decide(c, fold(events));
    if (result instanceof DomainError) throw new Error(`setup command ${c.type} refused: ${result.message}`);
    events.push(...result);
  }
  return events;
}


const toLaunchingNodes = () => history(C.launch(), C.nodes());
const toLaunchingPods = () => history(C.launch(), C.nodes(), C.instance('simulator'), C.instance('robots'), C.pods());
const toPodsCreated = () => extend(toLaunchingPods(), C.workload());
function decideOk(events: SimDeploymentEvent[], c: SimDeploymentCommand): SimDeploymentEvent[] {
  const r = decide(c, fold(events));
  if (r instanceof DomainError) throw r;
  return r;
}
const extend = (events: SimDeploymentEvent[], ...commands: SimDeploymentCommand[]): SimDeploymentEvent[] =>
  commands.reduce((acc, c) => [...acc, ...decideOk(acc, c)], events);

/** A history that ends in each status, with no error status. */
const historyFor: Record<Status, () => SimDeploymentEvent[]> = {
  Pending: () => history(C.launch()),
  LaunchingNodes: toLaunchingNodes,
  LaunchingPods: toLaunchingPods,
  Running: () => extend(toPodsCreated(), C.running()),
  ToBeTerminated: () => extend(toPodsCreated(), C.running(), C.stop()),
  DeletingPods: () => extend(toPodsCreated(), C.running(), C.stop(), C.deletePods()),
  DeletingNodes: () => extend(toPodsCreated(), C.running(), C.stop(), C.deletePods(), C.deleteNodes()),
  TerminatingInstances: () =>
    extend(toPodsCreated(), C.running(), C.stop(), C.deletePods(), C.deleteNodes(), C.terminateInstances()),
  Terminated: () =>
    extend(toPodsCreated(), C.running(), C.stop(), C.deletePods(), C.deleteNodes(), C.terminateInstances(), C.terminated()),
  Rejected: () => history(C.launch(), C.reject()),
};

const statusAfter = (events: SimDeploymentEvent[]) => fold(events)?.status;
const errorStatusAfter = (events: SimDeploymentEvent[]) => fold(events)?.errorStatus;

describe('SimDeployment decider', () => {
  describe('launch', () => {
    it('records who asked, when and what, and starts Pending', () => {
      const c = C.launch();
      given([]).when(c).then((events) => {
        expect(events).toEqual([
          {
            type: 'SimulationRequested',
            data: { deploymentId: ID, owner: 'alice', spec, provider: 'local', requestedAt: c.metadata.now, requestedBy: alice },
          },
        ]);
        expect(fold(events)).toMatchObject({ status: 'Pending', errorStatus: null, owner: 'alice' });
      });
    });

    it('refuses a second launch of the same deployment', () => {
      given(history(C.launch())).when(C.launch()).thenRefuses(IllegalTransitionError);
    });

    it.each([
      ['an id that is not a DNS label', { deploymentId: 'Not_An_Id' }],
      ['duplicate robot names', { spec: { ...spec, robots: [spec.robots[0], spec.robots[0]] } }],
      ['a non-positive max duration', { spec: { ...spec, maxDurationSeconds: 0 } }],
    ])('rejects %s with a validation error', (_label, override) => {
      const c = cmd('RequestLaunch', { deploymentId: ID, owner: 'alice', spec, provider: 'local', ...override }, alice);
      given([]).when(c).thenRefuses(ValidationError);
    });

    it('plans one node per role with client tokens derived from the deployment', () => {
      given(history(C.launch())).when(C.nodes()).then(([event]) => expect(event).toMatchObject({
        type: 'NodesLaunchStarted',
        data: {
          nodes: [
            { role: 'simulator', index: 0, clientToken: clientTokenFor(ID, 'simulator', 0), instanceType: 'g4dn.xlarge' },
            { role: 'robots', index: 0, clientToken: clientTokenFor(ID, 'robots', 0) },
          ],
        },
      }));
      expect(clientTokenFor(ID, 'simulator', 0).length).toBeLessThanOrEqual(64);
    });

    it('records instance ids against the planned node, once', () => {
      const events = extend(toLaunchingNodes(), C.instance('simulator', 'i-1'));
      expect(fold(events)?.nodes[0]).toMatchObject({ instanceId: 'i-1', nodeName: 'node-simulator' });
      given(events).when(C.instance('simulator', 'i-1')).thenNothing();
      given(events).when(C.instance('simulator', 'i-2')).thenRefuses(ValidationError);
    });

    it('does not launch pods before every node has an instance', () => {
      const events = extend(toLaunchingNodes(), C.instance('simulator'));
      given(events).when(C.pods()).thenRefuses(IllegalTransitionError);
    });

    it('names pods, services and policies from the deployment id', () => {
      const state = fold(toLaunchingPods());
      expect(state?.pods.map((p) => p.name)).toEqual([`sim-${ID}-gzserver`, `sim-${ID}-robot-0`, `sim-${ID}-bridge-0`]);
      expect(state?.services).toEqual([`sim-${ID}-gzserver`]);
      expect(state?.networkPolicies).toHaveLength(3);
      expect(state?.pods.every((p) => p.name.length <= 63)).toBe(true);
    });
  });

  describe('every legal transition', () => {
    // [from, to, history reaching `from`, the command that moves it]
    const cases: [Status, Status, () => SimDeploymentEvent[], () => SimDeploymentCommand, ErrorStatus | null][] = [
      ['Pending', 'LaunchingNodes', historyFor.Pending, C.nodes, null],
      ['Pending', 'ToBeTerminated', historyFor.Pending, C.stop, null],
      ['Pending', 'Rejected', historyFor.Pending, C.reject, null],
      ['Pending', 'Terminated', () => extend(historyFor.Pending(), C.fail('Pending', 'worker')), C.terminated, 'InitializationFailed'],
      ['LaunchingNodes', 'LaunchingPods', () => extend(toLaunchingNodes(), C.instance('simulator'), C.instance('robots')), C.pods, null],
      ['LaunchingNodes', 'ToBeTerminated', toLaunchingNodes, C.stop, null],
      ['LaunchingNodes', 'DeletingNodes', () => extend(toLaunchingNodes(), C.fail('LaunchingNodes')), C.deleteNodes, 'InitializationFailed'],
      ['LaunchingPods', 'Running', toPodsCreated, C.running, null],
      ['LaunchingPods', 'ToBeTerminated', toLaunchingPods, C.stop, null],
      ['LaunchingPods', 'DeletingPods', () => extend(toLaunchingPods(), C.fail('LaunchingPods')), C.deletePods, 'InitializationFailed'],
      ['Running', 'ToBeTerminated', historyFor.Running, C.stop, null],
      ['ToBeTerminated', 'DeletingPods', historyFor.ToBeTerminated, C.deletePods, null],
      ['DeletingPods', 'DeletingNodes', historyFor.DeletingPods, C.deleteNodes, null],
      ['DeletingNodes', 'TerminatingInstances', historyFor.DeletingNodes, C.terminateInstances, null],
      ['TerminatingInstances', 'Terminated', historyFor.TerminatingInstances, C.terminated, null],
    ];

    it('covers the whole transition table', () => {
      const table = Object.entries(TRANSITIONS).flatMap(([from, tos]) => tos.map((to) => `${from}->${to}`));
      expect(cases.map(([from, to]) => `${from}->${to}`).sort()).toEqual(table.sort());
    });

    it.each(cases)('%s -> %s', (from, to, given_, when, errorStatus) => {
      const before = given_();
      expect(statusAfter(before)).toBe(from);
      expect(errorStatusAfter(before)).toBe(errorStatus);
      const after = extend(before, when());
      expect(statusAfter(after)).toBe(to);
      expect(errorStatusAfter(after)).toBe(errorStatus);
    });

    it.each(cases)('repeating the command that moved %s -> %s changes nothing', (_from, _to, given_, when) => {
      given(extend(given_(), when())).when(when()).thenNothing();
    });
  });

  describe('illegal transitions', () => {
    const stepCommands: [string, () => SimDeploymentCommand, Status][] = [
      ['StartLaunchingNodes', C.nodes, 'LaunchingNodes'],
      ['StartLaunchingPods', C.pods, 'LaunchingPods'],
      ['MarkRunning', C.running, 'Running'],
      ['StartDeletingPods', C.deletePods, 'DeletingPods'],
      ['StartDeletingNodes', C.deleteNodes, 'DeletingNodes'],
      ['StartTerminatingInstances', C.terminateInstances, 'TerminatingInstances'],
      ['MarkTerminated', C.terminated, 'Terminated'],
      ['RejectLaunch', C.reject, 'Rejected'],
    ];
    const legalWithoutError = new Set([
      'Pending->LaunchingNodes',
      'Pending->Rejected',
      'LaunchingNodes->LaunchingPods',
      'LaunchingPods->Running',
      'ToBeTerminated->DeletingPods',
      'DeletingPods->DeletingNodes',
      'DeletingNodes->TerminatingInstances',
      'TerminatingInstances->Terminated',
    ]);
    const matrix = ALL_STATUSES.flatMap((from) =>
      stepCommands
        .filter(([, , to]) => to !== from && !legalWithoutError.has(`${from}->${to}`))
        .map(([name, c, to]) => [from, name, to, c] as const),
    );

    it('checks a good sample of illegal pairs', () => {
      expect(matrix.length).toBeGreaterThan(60);
    });

    it.each(matrix)('%s refuses %s (-> %s)', (from, _name, _to, c) => {
      given(historyFor[from]()).when(c()).thenRefuses(IllegalTransitionError);
    });

    it('refuses every command on a deployment that does not exist', () => {
      given([]).when(C.nodes()).thenRefuses(NotFoundError);
      given([]).when(C.stop()).thenRefuses(NotFoundError);
    });

    it('a launch step is refused once the launch has failed', () => {
      const failed = extend(toLaunchingPods(), C.fail('LaunchingPods'));
      given(failed).when(C.running()).thenRefuses(IllegalTransitionError);
    });

    it('a launch status is never left for a deletion status without a failure', () => {
      given(toLaunchingPods()).when(C.deletePods()).thenRefuses(IllegalTransitionError);
      given(toLaunchingNodes()).when(C.deleteNodes()).thenRefuses(IllegalTransitionError);
      given(historyFor.Pending()).when(C.terminated()).thenRefuses(IllegalTransitionError);
    });

    it('nothing automatic moves a deployment in admin review', () => {
      const review = extend(toLaunchingPods(), C.fail('LaunchingPods'), C.deletePods(), C.fail('DeletingPods', 'error-handler'));
      expect(errorStatusAfter(review)).toBe('AdminReview');
      for (const c of [C.deleteNodes(), C.terminateInstances(), C.terminated(), C.running()]) {
        given(review).when(c).thenRefuses(IllegalTransitionError);
      }
    });
  });

  describe('stop', () => {
    it.each(['Pending', 'LaunchingNodes', 'LaunchingPods', 'Running'] as Status[])(
      'is accepted in %s and records who asked',
      (from) => {
        const c = C.stop();
        given(historyFor[from]()).when(c).then([{ type: 'StopRequested', data: { at: c.metadata.now, by: alice, reason: 'user' } }]);
      },
    );

    it.each(['ToBeTerminated', 'DeletingPods', 'DeletingNodes', 'TerminatingInstances', 'Terminated', 'Rejected'] as Status[])(
      'is harmless in %s',
      (from) => {
        given(historyFor[from]()).when(C.stop()).thenNothing();
      },
    );

    it('is harmless while the error handler owns the deployment', () => {
      given(extend(toLaunchingPods(), C.fail('LaunchingPods'))).when(C.stop()).thenNothing();
    });

    it('turns a late launch step into an illegal transition (the launch stops at its next step boundary)', () => {
      const stopped = extend(toLaunchingPods(), C.stop());
      given(stopped).when(C.running()).thenRefuses(IllegalTransitionError);
    });
  });

  describe('failures', () => {
    it('a launch failure keeps the stage, provider error and attempt', () => {
      const c = C.fail('LaunchingNodes');
      const events = decideOk(toLaunchingNodes(), c);
      expect(events).toEqual([
        {
          type: 'LaunchFailed',
          data: {
            at: c.metadata.now,
            stage: 'LaunchingNodes',
            step: 'step',
            error: { code: 'InsufficientInstanceCapacity', message: 'no capacity', transient: true },
            attempt: 3,
          },
        },
      ]);
      const state = fold([...toLaunchingNodes(), ...events]);
      expect(state).toMatchObject({ status: 'LaunchingNodes', errorStatus: 'InitializationFailed' });
      expect(state?.failures).toHaveLength(1);
    });

    it('a termination failure sets TerminationFailed and the error handler finishes from there', () => {
      const events = extend(historyFor.DeletingNodes(), C.fail('DeletingNodes'), C.terminateInstances(), C.terminated());
      expect(fold(events)).toMatchObject({ status: 'Terminated', errorStatus: 'TerminationFailed' });
    });

    it('a rolled-back launch ends Terminated and keeps its error status for the record', () => {
      const events = extend(toLaunchingPods(), C.fail('LaunchingPods'), C.deletePods(), C.deleteNodes(), C.terminateInstances(), C.terminated());
      expect(fold(events)).toMatchObject({ status: 'Terminated', errorStatus: 'InitializationFailed' });
      expect(events.map((e) => e.type).slice(-5)).toEqual([
        'LaunchFailed',
        'PodsDeletionStarted',
        'NodesDeletionStarted',
        'InstancesTerminationStarted',
        'SimulationTerminated',
      ]);
    });

    it('a failure for a stage the deployment has left is stale and ignored', () => {
      given(extend(toLaunchingPods(), C.stop())).when(C.fail('LaunchingPods')).thenNothing();
    });

    it('a worker reporting a failure the error handler already owns adds nothing', () => {
      const failed = extend(toLaunchingPods(), C.fail('LaunchingPods'));
      given(failed).when(C.fail('LaunchingPods')).thenNothing();
    });

    it('the error handler failing sets AdminReview; a retry hands it back; a resolution ends it', () => {
      const review = extend(historyFor.DeletingNodes(), C.fail('DeletingNodes'), C.fail('DeletingNodes', 'error-handler'));
      expect(fold(review)).toMatchObject({ status: 'DeletingNodes', errorStatus: 'AdminReview' });
      expect(workOwner(fold(review))).toBeNull();

      const retried = extend(review, C.retry());
      expect(fold(retried)).toMatchObject({ errorStatus: 'TerminationFailed' });
      expect(workOwner(fold(retried))).toBe('error-handler');

      const review2 = extend(retried, C.fail('DeletingNodes', 'error-handler'));
      const resolved = extend(review2, C.resolve());
      expect(fold(resolved)).toMatchObject({
        status: 'Terminated',
        errorStatus: 'AdminReview',
        resolution: { by: admin, comment: 'instances removed by hand' },
      });
      given(resolved).when(C.resolve()).thenRefuses(IllegalTransitionError);
      given(resolved).when(C.retry()).thenRefuses(IllegalTransitionError);
    });

    it('a resolution needs a comment', () => {
      const review = extend(historyFor.DeletingNodes(), C.fail('DeletingNodes'), C.fail('DeletingNodes', 'error-handler'));
      given(review).when(C.resolve('  ')).thenRefuses(ValidationError);
    });

    it('the error handler cannot escalate a healthy deployment', () => {
      given(historyFor.DeletingNodes()).when(C.fail('DeletingNodes', 'error-handler')).thenRefuses(IllegalTransitionError);
    });

    it('a failure outside a launch or termination stage is invalid', () => {
      given(historyFor.Running()).when(C.fail('Running')).thenRefuses(ValidationError);
    });
  });

  describe('facts a provider step recorded', () => {
    it('the workload is recorded once, and Running needs it', () => {
      given(toLaunchingPods()).when(C.running()).thenRefuses(IllegalTransitionError);
      const c = C.workload();
      given(toLaunchingPods()).when(c).then([{ type: 'WorkloadCreated', data: { at: c.metadata.now } }]);
      given(toPodsCreated()).when(C.workload()).thenNothing();
      expect(fold(toPodsCreated())?.workloadHeld).toBe(true);
    });

    it('a workload before pods were planned is refused', () => {
      given(toLaunchingNodes()).when(C.workload()).thenRefuses(IllegalTransitionError);
    });

    it('the pod step releases the workload; a workload recorded after it is held again until deleted', () => {
      const past = extend(historyFor.DeletingNodes());
      expect(fold(past)?.workloadHeld).toBe(false);
      const late = extend(past, C.workload());
      expect(fold(late)?.workloadHeld).toBe(true);
      given(late).when(cmd('RecordWorkloadDeleted', {})).then((events) => expect(events.map((e) => e.type)).toEqual(['WorkloadDeleted']));
      given(past).when(cmd('RecordWorkloadDeleted', {})).thenNothing();
    });

    it('an instance launched after the deployment was terminated is recorded, held, and released once terminated', () => {
      const launching = toLaunchingNodes();
      const terminated = extend(launching, C.stop(), C.deletePods(), C.deleteNodes(), C.terminateInstances(), C.terminated());
      const late = extend(terminated, C.instance('simulator', 'i-late'));
      expect(workOwner(fold(late))).toBe('terminator');
      given(late).when(cmd('RecordInstancesTerminated', { instanceIds: ['i-late', 'i-unknown'] })).then((events) =>
        expect(events).toMatchObject([{ type: 'InstancesTerminated', data: { instanceIds: ['i-late'] } }]),
      );
      const released = extend(late, cmd('RecordInstancesTerminated', { instanceIds: ['i-late'] }));
      expect(workOwner(fold(released))).toBeNull();
      given(released).when(cmd('RecordInstancesTerminated', { instanceIds: ['i-late'] })).thenNothing();
    });

    it('termination releases every recorded instance', () => {
      expect(fold(historyFor.Terminated())?.nodes.every((n) => n.released)).toBe(true);
    });

    it('a failure cleaning up late resources of a terminated deployment goes to the error handler', () => {
      const late = extend(historyFor.Terminated(), C.workload());
      const failed = extend(late, C.fail('Terminated'));
      expect(fold(failed)).toMatchObject({ status: 'Terminated', errorStatus: 'TerminationFailed' });
      expect(workOwner(fold(failed))).toBe('error-handler');
      given(historyFor.Terminated()).when(C.fail('Terminated')).thenRefuses(ValidationError);
    });

    it('the logs of a workload are archived once, and again for a workload created later', () => {
      const archived = cmd('RecordLogsArchived', { location: 'file:///logs/a', pods: ['p'] });
      given(toLaunchingPods()).when(archived).thenNothing();
      const once = extend(toPodsCreated(), archived);
      expect(fold(once)?.logs).toMatchObject({ location: 'file:///logs/a', pods: ['p'] });
      given(once).when(cmd('RecordLogsArchived', { location: 'file:///logs/b', pods: ['p'] })).thenNothing();
      const late = extend(once, C.stop(), C.deletePods(), C.deleteNodes(), C.workload());
      expect(fold(late)?.logs).toBeUndefined();
      given(late).when(archived).then((events) => expect(events.map((e) => e.type)).toEqual(['LogsArchived']));
    });

    it('a reason to wait is recorded when it is new, and cleared by the next status', () => {
      const waiting = cmd('ReportWaiting', { stage: 'LaunchingPods', step: 'waitPodsReady', code: 'ImagePullBackOff', message: 'pulling' });
      const reported = extend(toPodsCreated(), waiting);
      expect(fold(reported)?.waiting).toMatchObject({ code: 'ImagePullBackOff', message: 'pulling', since: waiting.metadata.now });
      given(reported).when(cmd('ReportWaiting', { stage: 'LaunchingPods', step: 'waitPodsReady', code: 'ImagePullBackOff', message: 'again' })).thenNothing();
      given(toLaunchingNodes()).when(waiting).thenNothing();
      expect(fold(extend(reported, C.running()))?.waiting).toBeUndefined();
    });

    it('the orphan sweep is recorded on a deployment, and on a stream that has no deployment', () => {
      const swept = cmd('RecordOrphanSwept', {
        provider: 'local',
        kind: 'instance',
        resourceId: 'i-1',
        reason: 'deployment-unknown',
        dryRun: false,
        deploymentId: 'other',
      });
      given([]).when(swept).then((events) => expect(events).toMatchObject([{ type: 'OrphanSwept', data: { resourceId: 'i-1' } }]));
      const terminated = extend(historyFor.Terminated(), swept);
      expect(fold(terminated)?.sweeps).toMatchObject([{ resourceId: 'i-1', reason: 'deployment-unknown' }]);
      expect(fold(terminated)?.status).toBe('Terminated');
    });
  });

  describe('work owner', () => {
    it.each([
      ['Pending', 'launcher'],
      ['LaunchingPods', 'launcher'],
      ['Running', 'launcher'],
      ['ToBeTerminated', 'terminator'],
      ['TerminatingInstances', 'terminator'],
      ['Terminated', null],
      ['Rejected', null],
    ] as [Status, string | null][])('%s is owned by %s', (status, owner) => {
      expect(workOwner(fold(historyFor[status]()))).toBe(owner);
    });

    it('a failed launch belongs to the error handler', () => {
      expect(workOwner(fold(extend(toLaunchingNodes(), C.fail('LaunchingNodes'))))).toBe('error-handler');
    });
  });

  it('evolve keeps time from the events, not the clock', () => {
    const events = historyFor.Running();
    const state = fold(events);
    const running = events.find((e) => e.type === 'SimulationRunning');
    expect(state?.runningSince).toBe(running && 'at' in running.data ? running.data.at : undefined);
    expect(state?.statusSince).toBe(state?.runningSince);
  });

  it('has no error status until something fails', () => {
    for (const status of ALL_STATUSES) expect(errorStatusAfter(historyFor[status]())).toBeNull();
    expect(Object.values(ErrorStatus)).toEqual(['InitializationFailed', 'TerminationFailed', 'AdminReview']);
  });
});
