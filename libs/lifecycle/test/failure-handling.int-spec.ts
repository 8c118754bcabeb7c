import { FaultStep } from '@simdeploy/cloud';
import { ErrorStatus, SimDeployment, Status, latestFailure } from '@simdeploy/domain';
import { CommandKind } from '@simdeploy/messaging';
import { randomUUID } from 'node:crypto';
import { heldResources } from '../src';
import { ADMIN, TestSystem, isAlive } from './support/system';

const PERMANENT = { code: 'InjectedFault', message: 'injected', transient: false };
const CAPACITY = { code: 'InsufficientInstanceCapacity', message: 'no capacity in this zone', transient: true };

const LAUNCH_EVENTS_TO_NODES = ['SimulationRequested', 'NodesLaunchStarted'];
/** The spec has a robot: one simulator node and one robots node. */
const INSTANCES = ['InstanceLaunched', 'InstanceLaunched'];
const TERMINATED = (s: SimDeployment) => s.status === Status.Terminated;

describe('failure handling: launcher, terminator and error handler on real NATS and local providers', () => {
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
        expect(types).toEqual([...LAUNCH_EVENTS_TO_NODES, ...INSTANCES, 'PodsLaunchStarted', 'LaunchFailed', 'PodsDeletionStarted', ...rollback]);
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
      expect(await sys.eventTypes(id)).toEqual([...LAUNCH_EVENTS_TO_NODES, ...INSTANCES, 'PodsLaunchStarted', 'SimulationRunning']);

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
});
