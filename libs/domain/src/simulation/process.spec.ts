import { PERMANENT_FAILURE, SPEC_ADMIN, SPEC_ID, SPEC_OWNER, SPEC_SETTINGS, SPEC_SIMULATION, given, history, type History } from '../testing';
import type { Readiness } from './process';

const ok = <T>(value: T) => ({ ok: true as const, value });
const failure = (attempts = 1, error = PERMANENT_FAILURE) => ({ ok: false as const, failure: { error, attempts } });
const READY: Readiness = { state: 'ready' };
const PENDING: Readiness = { state: 'pending', detail: 'booting' };
const { nodeReadyTimeoutMs, podReadyTimeoutMs, deletionTimeoutMs, pollIntervalMs, healthRecheckMs } = SPEC_SETTINGS;

/** The deadline of the phase the history is in: its status began at the last status change. */
const deadline = (h: History, timeoutMs: number) => new Date(Date.parse(h.state.statusSince) + timeoutMs).toISOString();

describe('what happens next for a deployment (the process decider)', () => {
  describe('launch: Pending -> LaunchingNodes -> LaunchingPods -> Running', () => {
    it('a requested launch asks the admission ledgers first; with no limit in the way it starts launching nodes', () => {
      const h = history().requested();
      given(h.events).at(h.now).next().calls('admit', { scope: 'owner:alice', capacity: 'local:g4dn.xlarge', weight: 2 });
      given(h.events).at(h.now).after({ operation: 'admit', scope: 'owner:alice', capacity: 'local:g4dn.xlarge', weight: 2 }, ok({ admitted: [] })).issues('StartLaunchingNodes', {});
    });

    it('launches the first planned node without an instance, with its client token', () => {
      const h = history().launchingNodes();
      const [simulator] = h.state.nodes;
      given(h.events).at(h.now).next().calls('launchNode', {
        node: { role: 'simulator', index: 0, clientToken: simulator?.clientToken ?? '', instanceType: 'g4dn.xlarge' },
      });
    });

    it('records the instance a launch answered with', () => {
      const h = history().launchingNodes();
      const node = { ...(h.state.nodes[0] as (typeof h.state.nodes)[number]) };
      given(h.events)
        .at(h.now)
        .after({ operation: 'launchNode', node }, ok({ instanceId: 'i-1', nodeName: 'ip-10-0-0-1' }))
        .issues('RecordInstance', { role: 'simulator', index: 0, instanceId: 'i-1', nodeName: 'ip-10-0-0-1' });
    });

    it('a launch that fails for good fails the step with the attempt count', () => {
      const h = history().launchingNodes();
      const node = { ...(h.state.nodes[0] as (typeof h.state.nodes)[number]) };
      const unsupported = { code: 'Unsupported', message: 'g4dn.xlarge is not offered in any configured zone', transient: false };
      given(h.events)
        .at(h.now)
        .after({ operation: 'launchNode', node }, failure(1, unsupported))
        .issues('RecordFailure', { source: 'worker', stage: 'LaunchingNodes', step: 'launchNode', error: unsupported, attempt: 1 });
    });

    it('with every instance recorded, checks the machines, then that they joined', () => {
      const h = history().instancesLaunched();
      given(h.events).at(h.now).next().calls('checkNodes');
      given(h.events).at(h.now).after({ operation: 'checkNodes' }, ok(READY)).calls('checkNodesJoined');
      given(h.events).at(h.now).after({ operation: 'checkNodesJoined' }, ok(READY)).issues('StartLaunchingPods', {});
    });

    it('machines still booting: waits until the node-ready deadline, watched by the batched check', () => {
      const h = history().instancesLaunched();
      given(h.events).at(h.now).after({ operation: 'checkNodes' }, ok(PENDING)).waitsUntil(deadline(h, nodeReadyTimeoutMs), 'nodes');
      given(h.events).at(h.now).after({ operation: 'checkNodesJoined' }, ok(PENDING)).waitsUntil(deadline(h, nodeReadyTimeoutMs), 'nodes');
    });

    it('machines not ready at the deadline: NodeReadyTimeout, with what the provider last said', () => {
      const h = history().instancesLaunched();
      const action = given(h.events).at(deadline(h, nodeReadyTimeoutMs)).after({ operation: 'checkNodes' }, ok(PENDING));
      action.issues('RecordFailure');
      expect(action.command.data).toMatchObject({
        stage: 'LaunchingNodes',
        step: 'waitNodesReady',
        error: { code: 'NodeReadyTimeout', message: 'not ready after 300 s (booting)', transient: false },
      });
    });

    it('a machine the provider reports failed fails the step at once', () => {
      const h = history().instancesLaunched();
      const impaired: Readiness = { state: 'failed', error: { code: 'InstanceImpaired', message: 'reachability check failed', transient: false } };
      const action = given(h.events).at(h.now).after({ operation: 'checkNodes' }, ok(impaired));
      expect(action.command.data).toMatchObject({ step: 'waitNodesReady', error: { code: 'InstanceImpaired' } });
    });

    it('creates the workload once; once recorded, a poll only checks it', () => {
      const pods = history().launchingPods();
      given(pods.events).at(pods.now).next().calls('createWorkload');
      given(pods.events).at(pods.now).after({ operation: 'createWorkload' }, ok(undefined)).issues('RecordWorkloadCreated', {});
      const created = pods.workloadCreated();
      given(created.events).at(created.now).next().calls('checkWorkload');
      given(created.events).at(created.later(60_000)).next().calls('checkWorkload');
    });

    it('a workload that could not be created fails the step', () => {
      const h = history().launchingPods();
      given(h.events)
        .at(h.now)
        .after({ operation: 'createWorkload' }, failure())
        .issues('RecordFailure', { source: 'worker', stage: 'LaunchingPods', step: 'createWorkload', error: PERMANENT_FAILURE, attempt: 1 });
    });

    it('pods ready: Running', () => {
      const h = history().workloadCreated();
      given(h.events).at(h.now).after({ operation: 'checkWorkload' }, ok(READY)).issues('MarkRunning', {});
    });

    it('a pod that exited fails the launch with its exit and last log lines', () => {
      const h = history().workloadCreated();
      const exited: Readiness = {
        state: 'failed',
        error: { code: 'PodExited', message: 'pod sim-x-gzserver exited with code 3', transient: false },
        logs: ['loading world', 'cannot open display'],
      };
      const action = given(h.events).at(h.now).after({ operation: 'checkWorkload' }, ok(exited));
      expect(action.command).toEqual({
        type: 'RecordFailure',
        data: {
          source: 'worker',
          stage: 'LaunchingPods',
          step: 'waitPodsReady',
          error: {
            code: 'PodExited',
            message: 'pod sim-x-gzserver exited with code 3\nlast log lines:\nloading world\ncannot open display',
            transient: false,
          },
          attempt: 1,
        },
      });
    });

    it('a new reason to wait is recorded once; the same reason again only waits', () => {
      const h = history().workloadCreated();
      const pulling: Readiness = { state: 'pending', reason: { code: 'ImagePullBackOff', message: 'Back-off pulling image "robot:1"' } };
      given(h.events)
        .at(h.now)
        .after({ operation: 'checkWorkload' }, ok(pulling))
        .issues('ReportWaiting', { stage: 'LaunchingPods', step: 'waitPodsReady', code: 'ImagePullBackOff', message: 'Back-off pulling image "robot:1"' });
      const reported = h.do('ReportWaiting', { stage: 'LaunchingPods', step: 'waitPodsReady', code: 'ImagePullBackOff', message: 'x' });
      const action = given(reported.events).at(reported.now).after({ operation: 'checkWorkload' }, ok(pulling));
      action.waitsUntil(deadline(reported, podReadyTimeoutMs), 'workload');
      expect(action.action).toMatchObject({ knownReason: 'ImagePullBackOff' });
    });

    it('pods not ready at the deadline: PodReadyTimeout naming the reason', () => {
      const h = history().workloadCreated();
      const unschedulable: Readiness = { state: 'pending', reason: { code: 'Unschedulable', message: '0/3 nodes are available' } };
      const action = given(h.events).at(deadline(h, podReadyTimeoutMs)).after({ operation: 'checkWorkload' }, ok(unschedulable));
      expect(action.command.data).toMatchObject({
        step: 'waitPodsReady',
        error: { code: 'PodReadyTimeout', message: 'not ready after 300 s (Unschedulable: 0/3 nodes are available)' },
      });
    });
  });

  describe('admission: limits that queue instead of refusing', () => {
    const ADMIT = { operation: 'admit', scope: 'owner:alice', capacity: 'local:g4dn.xlarge', weight: 2 } as const;

    it('an admitted launch records the ledgers that hold its share, then provisions', () => {
      const h = history().requested();
      given(h.events).at(h.now).after(ADMIT, ok({ admitted: ['quota:owner:alice'] })).issues('RecordAdmitted', { ledgers: ['quota:owner:alice'] });
      const admitted = h.admitted();
      given(admitted.events).at(admitted.now).next().issues('StartLaunchingNodes', {});
    });

    it("a team member's launch counts against the team's limit, never a person's of the same name", () => {
      const h = history().do('RequestLaunch', { deploymentId: SPEC_ID, owner: 'alice', team: 'alice', spec: SPEC_SIMULATION, provider: 'local' }, SPEC_OWNER);
      expect(h.state).toMatchObject({ owner: 'alice', team: 'alice' });
      given(h.events).at(h.now).next().calls('admit', { ...ADMIT, scope: 'team:alice' });
    });

    it('a launch over the limit waits in line without provisioning anything', () => {
      const h = history().requested();
      given(h.events).at(h.now).after(ADMIT, ok({ queued: 'quota:owner:alice', place: 3 })).issues('RecordQueued', { ledger: 'quota:owner:alice' });
      const queued = h.queued();
      expect(queued.state).toMatchObject({ status: 'Pending', admission: { state: 'queued', ledgers: ['quota:owner:alice'] } });
      // Asked again (woken, or its safety net came due): still in line, it waits.
      given(queued.events).at(queued.now).next().calls('admit', ADMIT);
      given(queued.events).at(queued.now).after(ADMIT, ok({ queued: 'quota:owner:alice', place: 1 })).waitsUntil(queued.later(SPEC_SETTINGS.queueRecheckMs));
      // Its turn: admitted, it goes.
      given(queued.events).at(queued.now).after(ADMIT, ok({ admitted: ['quota:owner:alice'] })).issues('RecordAdmitted', { ledgers: ['quota:owner:alice'] });
    });

    it('a launch the ledgers refuse (a full line, more than the whole limit) ends Rejected with the reason', () => {
      const h = history().requested();
      const refused = given(h.events).at(h.now).after(ADMIT, ok({ refused: "the line for alice's simulations is full: 5 launches are already waiting, the most allowed" }));
      refused.issues('RejectLaunch', { reason: "the line for alice's simulations is full: 5 launches are already waiting, the most allowed" });
      const rejected = h.do('RejectLaunch', { reason: 'x' });
      expect(rejected.state.status).toBe('Rejected');
      given(rejected.events).at(rejected.now).next().doesNothing();
    });

    it('the ledgers being busy makes a launch wait and ask again, never fail', () => {
      const h = history().requested();
      given(h.events).at(h.now).after(ADMIT, failure(5, { code: 'ProviderInternalError', message: 'contention', transient: true })).waitsUntil(h.later(pollIntervalMs));
    });

    it('an ended launch gives its shares back, and a stopped one its place in line', () => {
      const ended = history().admitted().do('StartLaunchingNodes', {}).stopped().do('StartDeletingPods', {}).do('StartDeletingNodes', {}).do('StartTerminatingInstances', {}).do('MarkTerminated', {});
      given(ended.events).at(ended.now).next().calls('release', { ledgers: ['quota:owner:alice'] });
      given(ended.events).at(ended.now).after({ operation: 'release', ledgers: ['quota:owner:alice'] }, ok(undefined)).issues('RecordAdmissionReleased', { ledgers: ['quota:owner:alice'] });
      const released = ended.do('RecordAdmissionReleased', { ledgers: ['quota:owner:alice'] });
      given(released.events).at(released.now).next().doesNothing();

      const queuedThenStopped = history().queued().stopped();
      given(queuedThenStopped.events).at(queuedThenStopped.now).next().issues('StartDeletingPods', {});
      const gone = queuedThenStopped.do('StartDeletingPods', {}).do('StartDeletingNodes', {}).do('StartTerminatingInstances', {}).do('MarkTerminated', {});
      given(gone.events).at(gone.now).next().calls('release', { ledgers: ['quota:owner:alice'] });
    });

    it('a provider at capacity makes the launch wait and try again until its deadline, then fail', () => {
      const h = history().launchingNodes();
      const node = { ...(h.state.nodes[0] as (typeof h.state.nodes)[number]) };
      const limit = { code: 'InstanceLimitExceeded', message: 'you have requested more instances than your limit', transient: true };
      given(h.events).at(h.now).after({ operation: 'launchNode', node }, failure(5, limit)).waitsUntil(h.later(SPEC_SETTINGS.capacityRetryMs));
      const late = given(h.events).at(deadline(h, nodeReadyTimeoutMs)).after({ operation: 'launchNode', node }, failure(5, limit));
      expect(late.command).toMatchObject({ type: 'RecordFailure', data: { step: 'launchNode', error: limit, attempt: 5 } });
    });
  });

  describe('running: health and the maximum duration', () => {
    it('a healthy simulation is watched in batch, looked at again at the latest after the safety-net period', () => {
      const h = history().running();
      given(h.events).at(h.now).next().calls('checkWorkload');
      given(h.events).at(h.now).after({ operation: 'checkWorkload' }, ok(READY)).waitsUntil(h.later(healthRecheckMs), 'health');
    });

    it('waits until the maximum duration after Running (or the safety net, if sooner), then stops it', () => {
      const h = history({ maxDurationSeconds: 60 }).running();
      given(h.events).at(h.now).after({ operation: 'checkWorkload' }, ok(READY)).waitsUntil(h.later(60_000), 'health');
      given(h.events).at(h.later(59_999)).next().calls('checkWorkload');
      given(h.events).at(h.later(60_000)).next().issues('RequestStop', { reason: 'max-duration' });
      const long = history({ maxDurationSeconds: 86_400 }).running();
      given(long.events).at(long.now).after({ operation: 'checkWorkload' }, ok(READY)).waitsUntil(long.later(healthRecheckMs), 'health');
    });

    it('a pod that exits while Running stops the simulation with its exit and last log lines', () => {
      const h = history().running();
      const crashed: Readiness = {
        state: 'failed',
        error: { code: 'PodExited', message: 'pod sim-x-gzserver exited with code 139', transient: false },
        logs: ['segmentation fault'],
      };
      const action = given(h.events).at(h.now).after({ operation: 'checkWorkload' }, ok(crashed));
      action.issues('RecordWorkloadFailure', { error: crashed.error, logs: ['segmentation fault'] });
      const stopped = h.do('RecordWorkloadFailure', { error: crashed.error, logs: ['segmentation fault'] });
      expect(stopped.events.slice(-2).map((e) => e.type)).toEqual(['WorkloadFailed', 'StopRequested']);
      expect(stopped.state).toMatchObject({ status: 'ToBeTerminated', errorStatus: null, stop: { reason: 'workload-failed' }, workloadFailure: { error: crashed.error } });
      given(stopped.events).at(stopped.now).next().issues('StartDeletingPods', {});
    });

    it('a failure report for a simulation that is no longer Running adds nothing', () => {
      const h = history().running().stopped();
      given(h.events)
        .when(h.commandFor('RecordWorkloadFailure', { error: { code: 'PodExited', message: 'x', transient: false } }))
        .thenNothing();
    });
  });

  describe('stop: ToBeTerminated -> DeletingPods -> DeletingNodes -> TerminatingInstances -> Terminated', () => {
    it('a stop starts deleting pods, whatever the launch had reached', () => {
      for (const h of [history().requested().stopped(), history().launchingNodes().stopped(), history().running().stopped()]) {
        given(h.events).at(h.now).next().issues('StartDeletingPods', {});
      }
    });

    it('archives the pods\' logs, deletes the workload, then the nodes', () => {
      const h = history().deletingPods();
      const pods = h.state.pods.map((p) => p.name);
      given(h.events).at(h.now).next().calls('archiveLogs', { pods });
      given(h.events).at(h.now).after({ operation: 'archiveLogs', pods }, ok({ location: 'file:///logs/x' })).issues('RecordLogsArchived', { location: 'file:///logs/x', pods });
      const archived = h.logsArchived();
      given(archived.events).at(archived.now).next().calls('deleteWorkload');
      given(archived.events).at(archived.now).after({ operation: 'deleteWorkload' }, ok({ gone: true })).issues('StartDeletingNodes', {});
    });

    it('logs that cannot be archived are recorded as lost, and the cleanup goes on', () => {
      const h = history().deletingPods();
      const pods = h.state.pods.map((p) => p.name);
      given(h.events)
        .at(h.now)
        .after({ operation: 'archiveLogs', pods }, failure(3, { code: 'AccessDenied', message: 'no write to the bucket', transient: false }))
        .issues('RecordLogsArchived', { location: null, pods, error: 'AccessDenied: no write to the bucket' });
      const lost = h.do('RecordLogsArchived', { location: null, pods, error: 'AccessDenied: no write to the bucket' });
      given(lost.events).at(lost.now).next().calls('deleteWorkload');
    });

    it('a cleanup that created no workload has no logs to archive', () => {
      const h = history().launchingPods().stopped().do('StartDeletingPods', {});
      given(h.events).at(h.now).next().calls('deleteWorkload');
    });

    it('records pods the runtime had to remove by force', () => {
      const h = history().deletingPods();
      given(h.events)
        .at(h.now)
        .after({ operation: 'deleteWorkload' }, ok({ gone: true, forced: ['sim-x-robot-0'] }))
        .issues('StartDeletingNodes', { forcedPods: ['sim-x-robot-0'] });
    });

    it('a deletion in progress is looked at again after the poll interval, and fails at its deadline', () => {
      const h = history().deletingPods();
      given(h.events).at(h.now).after({ operation: 'deleteWorkload' }, ok({ gone: false })).waitsUntil(h.later(pollIntervalMs));
      const late = given(h.events).at(h.later(deletionTimeoutMs)).after({ operation: 'deleteWorkload' }, ok({ gone: false, detail: 'pod x Terminating' }));
      expect(late.command.data).toMatchObject({
        stage: 'DeletingPods',
        step: 'deleteWorkload',
        error: { code: 'DeletionTimeout', message: 'still present after 300 s (pod x Terminating)' },
      });
    });

    it('deletes the node objects by name, then terminates every recorded instance, then what carries its tag', () => {
      const nodes = history().deletingNodes();
      given(nodes.events).at(nodes.now).next().calls('deleteNodes', { nodeNames: ['node-simulator-0', 'node-robots-0'] });
      given(nodes.events).at(nodes.now).after({ operation: 'deleteNodes', nodeNames: [] }, ok({ gone: true })).issues('StartTerminatingInstances', {});
      const instances = nodes.do('StartTerminatingInstances', {});
      given(instances.events).at(instances.now).next().calls('terminateInstances', { instanceIds: ['i-simulator-0', 'i-robots-0'] });
      given(instances.events).at(instances.now).after({ operation: 'terminateInstances', instanceIds: [] }, ok(undefined)).calls('terminateDeployment');
      given(instances.events).at(instances.now).after({ operation: 'terminateDeployment' }, ok([])).issues('MarkTerminated', {});
    });

    it('an overloaded provider slows a cleanup step down instead of failing it: transient errors retry until the deletion deadline', () => {
      const h = history().deletingNodes();
      const timeout = { code: 'CallTimeout', message: 'deleteNodes did not answer within 10000 ms', transient: true };
      given(h.events).at(h.now).after({ operation: 'deleteNodes', nodeNames: [] }, failure(5, timeout)).waitsUntil(h.later(SPEC_SETTINGS.capacityRetryMs));
      const late = given(h.events).at(h.later(deletionTimeoutMs)).after({ operation: 'deleteNodes', nodeNames: [] }, failure(5, timeout));
      expect(late.command).toMatchObject({ type: 'RecordFailure', data: { step: 'deleteNodes', error: timeout } });
    });

    it('a failed termination step is recorded for the error handler', () => {
      const h = history().deletingNodes();
      given(h.events)
        .at(h.now)
        .after({ operation: 'deleteNodes', nodeNames: [] }, failure())
        .issues('RecordFailure', { source: 'worker', stage: 'DeletingNodes', step: 'deleteNodes', error: PERMANENT_FAILURE, attempt: 1 });
    });

    it('a terminated deployment needs nothing more', () => {
      const h = history().terminated();
      given(h.events).at(h.later(3_600_000)).next().doesNothing();
    });
  });

  describe('rollback of a failed launch, from its last valid status (the error handler)', () => {
    it('from Pending: nothing was created, so it ends', () => {
      const h = history().requested().failed();
      given(h.events).at(h.now).next().issues('MarkTerminated', {});
    });

    it('from LaunchingNodes: straight to the nodes, no pod step', () => {
      const h = history().instancesLaunched().failed('waitNodesReady');
      given(h.events).at(h.now).next().issues('StartDeletingNodes', {});
    });

    it('from LaunchingPods: the whole cleanup', () => {
      const h = history().workloadCreated().failed('waitPodsReady');
      given(h.events).at(h.now).next().issues('StartDeletingPods', {});
    });

    it('the rollback steps are the cleanup steps; a failure of its own is reported as the error handler\'s', () => {
      const h = history().workloadCreated().failed('waitPodsReady').do('StartDeletingPods', {});
      given(h.events).at(h.now).next().calls('archiveLogs', { pods: h.state.pods.map((p) => p.name) });
      given(h.logsArchived().events).at(h.now).next().calls('deleteWorkload');
      given(h.events)
        .at(h.now)
        .after({ operation: 'deleteWorkload' }, failure())
        .issues('RecordFailure', { source: 'error-handler', stage: 'DeletingPods', step: 'deleteWorkload', error: PERMANENT_FAILURE, attempt: 1 });
    });
  });

  describe('a failed termination is finished by the error handler from the step that failed', () => {
    it('resumes at the failed step', () => {
      const h = history().deletingNodes().failed('deleteNodes');
      given(h.events).at(h.now).next().calls('deleteNodes', { nodeNames: ['node-simulator-0', 'node-robots-0'] });
    });
  });

  describe('AdminReview: a person must look', () => {
    const review = () => history().deletingNodes().failed('deleteNodes').failed('deleteNodes', PERMANENT_FAILURE, 'error-handler');

    it('nothing automatic happens while it waits for an admin', () => {
      const h = review();
      expect(h.state.errorStatus).toBe('AdminReview');
      given(h.events).at(h.later(86_400_000)).next().doesNothing();
    });

    it('an admin retry resumes the cleanup where it stopped', () => {
      const h = review().do('RequestCleanupRetry', {}, SPEC_ADMIN);
      given(h.events).at(h.now).next().calls('deleteNodes', { nodeNames: ['node-simulator-0', 'node-robots-0'] });
    });

    it('a resolved review is finished', () => {
      const h = review().do('ResolveAdminReview', { comment: 'removed by hand' }, SPEC_ADMIN);
      given(h.events).at(h.now).next().doesNothing();
    });
  });

  describe('a stop that overtakes a launch', () => {
    it('pods created after the cleanup passed its pod step are deleted before it goes on', () => {
      const late = history().launchingPods().stopped().do('StartDeletingPods', {}).do('StartDeletingNodes', {}).do('RecordWorkloadCreated', {});
      given(late.events).at(late.now).next().calls('archiveLogs', { pods: late.state.pods.map((p) => p.name) });
      const h = late.logsArchived();
      given(h.events).at(h.now).next().calls('deleteWorkload');
      given(h.events).at(h.now).after({ operation: 'deleteWorkload' }, ok({ gone: true })).issues('RecordWorkloadDeleted', {});
      const deleted = h.do('RecordWorkloadDeleted', {});
      given(deleted.events).at(deleted.now).next().calls('deleteNodes', { nodeNames: ['node-simulator-0', 'node-robots-0'] });
    });

    it('pods created after the deployment was terminated are deleted, and that is recorded', () => {
      const h = history().launchingPods().stopped().do('StartDeletingPods', {}).do('StartDeletingNodes', {});
      const late = h.do('StartTerminatingInstances', {}).do('MarkTerminated', {}).do('RecordWorkloadCreated', {}).logsArchived();
      expect(late.state.status).toBe('Terminated');
      given(late.events).at(late.now).next().calls('deleteWorkload');
      given(late.events).at(late.now).after({ operation: 'deleteWorkload' }, ok({ gone: false })).waitsUntil(late.later(pollIntervalMs));
      const deleted = late.do('RecordWorkloadDeleted', {});
      given(deleted.events).at(deleted.now).next().doesNothing();
    });

    it('an instance recorded after termination is terminated and recorded as such', () => {
      const h = history().launchingNodes();
      const simulator = h.state.nodes[0];
      const done = h
        .stopped()
        .do('StartDeletingPods', {})
        .do('StartDeletingNodes', {})
        .do('StartTerminatingInstances', {})
        .do('MarkTerminated', {})
        .do('RecordInstance', { role: 'simulator', index: 0, instanceId: 'i-late', nodeName: 'node-late' });
      expect(simulator?.instanceId).toBeUndefined();
      given(done.events).at(done.now).next().calls('terminateInstances', { instanceIds: ['i-late'] });
      given(done.events)
        .at(done.now)
        .after({ operation: 'terminateInstances', instanceIds: ['i-late'] }, ok(undefined))
        .issues('RecordInstancesTerminated', { instanceIds: ['i-late'] });
      const released = done.do('RecordInstancesTerminated', { instanceIds: ['i-late'] });
      given(released.events).at(released.now).next().doesNothing();
    });

    it('an instance recorded while instances are being terminated is part of the terminate call', () => {
      const h = history().launchingNodes().stopped().do('StartDeletingPods', {}).do('StartDeletingNodes', {}).do('StartTerminatingInstances', {});
      const late = h.do('RecordInstance', { role: 'robots', index: 0, instanceId: 'i-robots-late', nodeName: 'node-r' });
      given(late.events).at(late.now).next().calls('terminateInstances', { instanceIds: ['i-robots-late'] });
    });
  });
});
