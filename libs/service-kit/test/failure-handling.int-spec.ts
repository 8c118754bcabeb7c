import { FaultStep } from '@simdeploy/cloud';
import { ErrorStatus, SimDeployment, Status, latestFailure } from '@simdeploy/domain';
import { CommandKind } from '@simdeploy/messaging';
import { waitFor } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { heldResources } from '@simdeploy/read-model';
import { ADMIN, TestSystem, isAlive } from './support/system';

const PERMANENT = { code: 'InjectedFault', message: 'injected', transient: false };
const CAPACITY = { code: 'InsufficientInstanceCapacity', message: 'no capacity in this zone', transient: true };

const LAUNCH_EVENTS_TO_NODES = ['SimulationRequested', 'NodesLaunchStarted'];
/** The spec has a robot: one simulator node and one robots node. */
const INSTANCES = ['InstanceLaunched', 'InstanceLaunched'];
const TERMINATED = (s: SimDeployment) => s.status === Status.Terminated;

describe('failure handling: launcher, terminator and error handler on real NATS and local providers', () => {
  /** A launch whose three pods start but never become ready: it stays in LaunchingPods. */
  async function launchWithPodsNeverReady(): Promise<{ id: string; pids: number[] }> {
    const id = randomUUID();
    await sys.launch({ id, provider: 'neverready' });
    await sys.until(id, (s) => s.status === Status.LaunchingPods && s.workloadHeld, 'pods created');
    const pids = await waitFor(async () => {
      const found = await sys.podPids(id);
      return found.length === 3 ? found : null;
    }, { description: 'pod processes started' });
    return { id, pids };
  }

  let sys: TestSystem;

  beforeAll(async () => {
    sys = await TestSystem.start();
  });

  afterAll(async () => {
    await sys?.close();
  });

  /** The provider holds nothing for the deployment: no instance, no workload, no pod process. */
  async function expectNothingHeld(id: string, pids: number[] = []): Promise<void> {
    expect(await sys.held(id)).toEqual({ instances: [], pods: [] });
    expect(pids.filter(isAlive)).toEqual([]);
  }

  describe('a permanent failure at a launch step is rolled back from the last valid status', () => {
    it.each<[FaultStep, Status]>([
      ['launchNode', Status.LaunchingNodes],
      ['checkNodes', Status.LaunchingNodes],
      ['checkNodesJoined', Status.LaunchingNodes],
      ['createWorkload', Status.LaunchingPods],
      ['checkWorkload', Status.LaunchingPods],
    ])('%s fails in %s -> InitializationFailed -> Terminated, nothing held', async (step, stage) => {
      const id = randomUUID();
      sys.faults.add({ step, mode: 'fail', error: PERMANENT, deploymentId: id });
      await sys.launch({ id });

      const final = await sys.until(id, TERMINATED, 'rolled back');
      expect(final.errorStatus).toBe(ErrorStatus.InitializationFailed);
      expect(latestFailure(final)).toMatchObject({ stage, step, attempt: 1, error: { code: 'InjectedFault' } });
      const types = await sys.eventTypes(id);
      const rollback = ['NodesDeletionStarted', 'InstancesTerminationStarted', 'SimulationTerminated'];
      if (stage === Status.LaunchingNodes) {
        const launched = step === 'launchNode' ? [] : INSTANCES;
        expect(types).toEqual([...LAUNCH_EVENTS_TO_NODES, ...launched, 'LaunchFailed', ...rollback]);
      } else {
        // Pods that were created are a recorded fact; a creation that failed records none.
        // Pods that ran have their logs archived before they are deleted.
        const created = step === 'createWorkload' ? [] : ['WorkloadCreated'];
        const archived = step === 'createWorkload' ? [] : ['LogsArchived'];
        expect(types).toEqual([...LAUNCH_EVENTS_TO_NODES, ...INSTANCES, 'PodsLaunchStarted', ...created, 'LaunchFailed', 'PodsDeletionStarted', ...archived, ...rollback]);
      }
      await expectNothingHeld(id);
    });
  });

  describe('transient provider errors', () => {
    it('are retried within the attempts without being recorded as a failure', async () => {
      const id = randomUUID();
      sys.faults.add({ step: 'launchNode', mode: 'fail', error: CAPACITY, times: 2, deploymentId: id });
      await sys.launch({ id });

      const running = await sys.until(id, (s) => s.status === Status.Running, 'running');
      expect(running.errorStatus).toBeNull();
      expect(running.failures).toEqual([]);
      // Two failures and a success for the first node, one call for the second.
      expect(sys.faults.count('launchNode', id)).toBe(4);
      expect(await sys.eventTypes(id)).toEqual([...LAUNCH_EVENTS_TO_NODES, ...INSTANCES, 'PodsLaunchStarted', 'WorkloadCreated', 'SimulationRunning']);

      const pids = await sys.podPids(id);
      expect(pids.length).toBeGreaterThan(0);
      await sys.stop(id);
      await sys.until(id, TERMINATED, 'terminated');
      await expectNothingHeld(id, pids);
    });

    it('fail the step with attempt = maxAttempts when they persist', async () => {
      const id = randomUUID();
      sys.faults.add({ step: 'launchNode', mode: 'fail', error: CAPACITY, deploymentId: id });
      await sys.launch({ id });

      const final = await sys.until(id, TERMINATED, 'rolled back');
      expect(final.errorStatus).toBe(ErrorStatus.InitializationFailed);
      expect(latestFailure(final)).toMatchObject({
        stage: Status.LaunchingNodes,
        step: 'launchNode',
        attempt: sys.config.PROVIDER_MAX_ATTEMPTS,
        error: { code: 'InsufficientInstanceCapacity', transient: true },
      });
      await expectNothingHeld(id);
    });
  });

  /** Launches on `provider`, waits for Running and returns the pod process ids. */
  async function running(id: string): Promise<number[]> {
    await sys.launch({ id });
    await sys.until(id, (s) => s.status === Status.Running, 'running');
    const pids = await sys.podPids(id);
    expect(pids.length).toBe(3);
    return pids;
  }

  describe('a failure at a termination step is finished by the error handler from that step', () => {
    it.each<[FaultStep, Status, string[]]>([
      ['deleteWorkload', Status.DeletingPods, ['PodsDeletionStarted', 'LogsArchived', 'TerminationFailed', 'NodesDeletionStarted', 'InstancesTerminationStarted']],
      ['deleteNodes', Status.DeletingNodes, ['PodsDeletionStarted', 'LogsArchived', 'NodesDeletionStarted', 'TerminationFailed', 'InstancesTerminationStarted']],
      ['terminateInstances', Status.TerminatingInstances, ['PodsDeletionStarted', 'LogsArchived', 'NodesDeletionStarted', 'InstancesTerminationStarted', 'TerminationFailed']],
      ['terminateDeployment', Status.TerminatingInstances, ['PodsDeletionStarted', 'LogsArchived', 'NodesDeletionStarted', 'InstancesTerminationStarted', 'TerminationFailed']],
    ])('%s fails in %s -> TerminationFailed -> Terminated, nothing held', async (step, stage, cleanup) => {
      const id = randomUUID();
      const pids = await running(id);
      // Only the terminator's call fails; the error handler's try succeeds.
      sys.faults.add({ step, mode: 'fail', error: PERMANENT, times: 1, deploymentId: id });
      await sys.stop(id);

      const final = await sys.until(id, TERMINATED, 'terminated');
      expect(final.errorStatus).toBe(ErrorStatus.TerminationFailed);
      expect(latestFailure(final)).toMatchObject({ stage, step, attempt: 1, error: { code: 'InjectedFault' } });
      expect(await sys.eventTypes(id)).toEqual([
        ...LAUNCH_EVENTS_TO_NODES,
        ...INSTANCES,
        'PodsLaunchStarted',
        'WorkloadCreated',
        'SimulationRunning',
        'StopRequested',
        ...cleanup,
        'SimulationTerminated',
      ]);
      expect(sys.faults.count(step, id)).toBe(2);
      await expectNothingHeld(id, pids);
    });
  });

  describe('a failure while the error handler rolls back', () => {
    async function inAdminReview(): Promise<{ id: string; pids: number[] }> {
      const id = randomUUID();
      sys.faults.add({ step: 'checkWorkload', mode: 'fail', error: PERMANENT, deploymentId: id });
      sys.faults.add({ step: 'deleteWorkload', mode: 'fail', error: { ...PERMANENT, code: 'DeleteRefused' }, deploymentId: id });
      await sys.launch({ id });
      const review = await sys.until(id, (s) => s.errorStatus === ErrorStatus.AdminReview, 'admin review');
      expect(review.status).toBe(Status.DeletingPods);
      expect(latestFailure(review)).toMatchObject({ stage: Status.DeletingPods, step: 'deleteWorkload', error: { code: 'DeleteRefused' } });
      expect(await sys.eventTypes(id)).toEqual([
        ...LAUNCH_EVENTS_TO_NODES,
        ...INSTANCES,
        'PodsLaunchStarted',
        'WorkloadCreated',
        'LaunchFailed',
        'PodsDeletionStarted',
        'LogsArchived',
        'AdminReviewRequired',
      ]);
      // The leftovers an operator sees are what the provider really still holds.
      const held = heldResources(review);
      const actual = await sys.held(id);
      expect(held.instances.sort()).toEqual(actual.instances.sort());
      expect(held.pods.sort()).toEqual(actual.pods.map((p) => p.replace(/\.json$/, '')).sort());
      expect(held.pods).toHaveLength(3);
      return { id, pids: await sys.podPids(id) };
    }

    it('-> AdminReview listing the leftovers; an admin retry completes it once the fault is gone', async () => {
      const { id, pids } = await inAdminReview();
      expect(pids.filter(isAlive)).toHaveLength(3);

      sys.faults.set([]);
      await sys.execAndDispatch(id, 'RequestCleanupRetry', {}, ADMIN);

      const final = await sys.until(id, TERMINATED, 'terminated after the retry');
      expect(final.errorStatus).toBe(ErrorStatus.InitializationFailed);
      expect((await sys.eventTypes(id)).slice(-5)).toEqual([
        'AdminReviewRequired',
        'CleanupRetryRequested',
        'NodesDeletionStarted',
        'InstancesTerminationStarted',
        'SimulationTerminated',
      ]);
      await expectNothingHeld(id, pids);
    });

    it('-> AdminReview; resolving it with a comment ends it and records who and why', async () => {
      const { id } = await inAdminReview();

      const resolved = await sys.exec(id, 'ResolveAdminReview', { comment: 'deleted by hand in the console' }, ADMIN);
      expect(resolved.status).toBe(Status.Terminated);
      expect(resolved.resolution).toMatchObject({ by: { subject: 'root' }, comment: 'deleted by hand in the console' });
      expect((await sys.eventTypes(id)).slice(-1)).toEqual(['AdminReviewResolved']);
    });
  });

  describe('a stop during each launch status', () => {
    it('in Pending (launch command not yet handled) -> Terminated; the late launch command does nothing', async () => {
      const id = await sys.launch({ send: false });
      await sys.stop(id);
      await sys.until(id, TERMINATED, 'terminated');
      await sys.bus.send({ deploymentId: id, kind: CommandKind.Launch, issuedAt: new Date().toISOString(), reason: 'api' });
      await waitFor(async () => !(await sys.bus.hasPending(CommandKind.Launch, id)), { description: 'the late launch command handled' });

      const final = await sys.state(id);
      expect(final.errorStatus).toBeNull();
      expect(await sys.eventTypes(id)).toEqual(['SimulationRequested', 'StopRequested', 'PodsDeletionStarted', 'NodesDeletionStarted', 'InstancesTerminationStarted', 'SimulationTerminated']);
      await expectNothingHeld(id);
    });

    it('in LaunchingNodes (machines booting) -> Terminated, the instances given back', async () => {
      const id = randomUUID();
      await sys.launch({ id, provider: 'slowboot' });
      await sys.until(id, (s) => s.status === Status.LaunchingNodes && s.nodes.every((n) => n.instanceId), 'instances launched, booting');
      expect((await sys.held(id)).instances).toHaveLength(2);
      await sys.stop(id);

      const final = await sys.until(id, TERMINATED, 'terminated');
      expect(final.errorStatus).toBeNull();
      expect(await sys.eventTypes(id)).toEqual([
        ...LAUNCH_EVENTS_TO_NODES,
        ...INSTANCES,
        'StopRequested',
        'PodsDeletionStarted',
        'NodesDeletionStarted',
        'InstancesTerminationStarted',
        'SimulationTerminated',
      ]);
      await expectNothingHeld(id);
    });

    it('in LaunchingPods (pods starting) -> Terminated, the pods stopped', async () => {
      const { id, pids } = await launchWithPodsNeverReady();
      await sys.stop(id);

      const final = await sys.until(id, TERMINATED, 'terminated');
      expect(final.errorStatus).toBeNull();
      expect((await sys.eventTypes(id)).slice(-8)).toEqual([
        'PodsLaunchStarted',
        'WorkloadCreated',
        'StopRequested',
        'PodsDeletionStarted',
        'LogsArchived',
        'NodesDeletionStarted',
        'InstancesTerminationStarted',
        'SimulationTerminated',
      ]);
      await expectNothingHeld(id, pids);
    });
  });

  describe('a stop that overtakes pod creation', () => {
    it('the terminator finishes first; the launch deletes the pods it created after that, nothing is left', async () => {
      const id = randomUUID();
      // createWorkload is slow: the stop and the whole termination happen while it waits.
      sys.faults.add({ step: 'createWorkload', mode: 'slow', delayMs: 1500, deploymentId: id });
      await sys.launch({ id });
      await sys.until(id, (s) => s.status === Status.LaunchingPods, 'launching pods');
      await sys.stop(id);
      await sys.until(id, TERMINATED, 'terminated while the pods were still being created');
      await waitFor(() => sys.faults.count('createWorkload', id) > 0 && sys.faults.count('deleteWorkload', id) >= 2, {
        description: 'the late pods deleted by the launch',
      });
      await waitFor(async () => (await sys.held(id)).pods.length === 0, { description: 'no pods held' });
      await expectNothingHeld(id);
    });
  });

  describe('a timeout at each wait', () => {
    it('nodes not ready within NODE_READY_TIMEOUT_S -> NodeReadyTimeout, rolled back', async () => {
      const id = randomUUID();
      await sys.launch({ id, provider: 'slowboot' });

      const final = await sys.until(id, TERMINATED, 'rolled back');
      expect(final.errorStatus).toBe(ErrorStatus.InitializationFailed);
      expect(latestFailure(final)).toMatchObject({ stage: Status.LaunchingNodes, step: 'waitNodesReady', error: { code: 'NodeReadyTimeout' } });
      expect((await sys.eventTypes(id)).slice(-4)).toEqual(['LaunchFailed', 'NodesDeletionStarted', 'InstancesTerminationStarted', 'SimulationTerminated']);
      await expectNothingHeld(id);
    });

    it('pods not ready within POD_READY_TIMEOUT_S -> PodReadyTimeout, rolled back', async () => {
      const { id, pids } = await launchWithPodsNeverReady();

      const final = await sys.until(id, TERMINATED, 'rolled back');
      expect(final.errorStatus).toBe(ErrorStatus.InitializationFailed);
      expect(latestFailure(final)).toMatchObject({ stage: Status.LaunchingPods, step: 'waitPodsReady', error: { code: 'PodReadyTimeout' } });
      expect((await sys.eventTypes(id)).slice(-6)).toEqual([
        'LaunchFailed',
        'PodsDeletionStarted',
        'LogsArchived',
        'NodesDeletionStarted',
        'InstancesTerminationStarted',
        'SimulationTerminated',
      ]);
      await expectNothingHeld(id, pids);
    });
  });

  it('a maximum run duration stops the simulation automatically', async () => {
    const id = randomUUID();
    await sys.launch({ id, spec: { maxDurationSeconds: 1 } });
    const runningState = await sys.until(id, (s) => s.status === Status.Running, 'running');
    const pids = await sys.podPids(id);

    const final = await sys.until(id, TERMINATED, 'stopped at its maximum duration');
    expect(final.errorStatus).toBeNull();
    expect(final.stop).toMatchObject({ reason: 'max-duration', by: { subject: 'service:launcher' } });
    expect(Date.parse(final.stop?.at ?? '') - Date.parse(runningState.runningSince ?? '')).toBeGreaterThanOrEqual(1_000);
    expect((await sys.eventTypes(id)).slice(-7)).toEqual([
      'SimulationRunning',
      'StopRequested',
      'PodsDeletionStarted',
      'LogsArchived',
      'NodesDeletionStarted',
      'InstancesTerminationStarted',
      'SimulationTerminated',
    ]);
    await expectNothingHeld(id, pids);
  });
});