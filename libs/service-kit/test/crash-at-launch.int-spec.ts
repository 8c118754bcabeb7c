import { ErrorStatus, Status, latestFailure } from '@simdeploy/domain';
import { randomUUID } from 'node:crypto';
import { TestSystem } from './support/system';

/**
 * Issue 17, as a new user met it: a simulator command that prints why and exits 3 during the
 * launch. It must fail the launch at the next check with the pod, the exit code and what it
 * printed, having been started once, and the rollback must leave nothing.
 */
describe('a simulator that exits during the launch, on the real local runtime', () => {
  let sys: TestSystem;

  beforeAll(async () => {
    // A deadline far away, so only the check can explain a quick failure.
    sys = await TestSystem.start({ env: { POD_READY_TIMEOUT_S: '120', READINESS_POLL_MS: '100' } });
  });

  afterAll(async () => {
    await sys?.close();
  });

  it('fails the launch within a few poll intervals with the pod, exit code and printed line, started once, nothing left', async () => {
    const id = randomUUID();
    await sys.launch({ id, provider: 'crashing', spec: { robots: [] } });
    const final = await sys.until(id, (s) => s.status === Status.Terminated, 'rolled back', 30_000);

    expect(final.errorStatus).toBe(ErrorStatus.InitializationFailed);
    const failure = latestFailure(final);
    expect(failure).toMatchObject({ stage: Status.LaunchingPods, step: 'waitPodsReady', error: { code: 'PodExited', transient: false } });
    const message = failure?.error.message ?? '';
    expect(message).toContain(`pod sim-${id}-gzserver`);
    expect(message).toMatch(/code 3/);
    expect(message).toContain('cannot open display');
    // The last log lines are the pod's whole life: one start, one exit.
    expect(message.match(/started pid/g)).toHaveLength(1);

    const launchingPods = (await sys.store.readStream(id)).events.find((e) => e.type === 'PodsLaunchStarted');
    const waited = Date.parse(failure?.at ?? '') - Date.parse(launchingPods?.recordedAt ?? '');
    expect(waited).toBeLessThan(10_000);
    expect(await sys.eventTypes(id)).toEqual([
      'SimulationRequested',
      'NodesLaunchStarted',
      'InstanceLaunched',
      'PodsLaunchStarted',
      'WorkloadCreated',
      'LaunchFailed',
      'PodsDeletionStarted',
      'LogsArchived',
      'NodesDeletionStarted',
      'InstancesTerminationStarted',
      'SimulationTerminated',
    ]);
    expect(await sys.held(id)).toEqual({ instances: [], pods: [] });
    // Its log outlives the pod: archived before the rollback deleted it.
    expect(final.logs).toMatchObject({ pods: [`sim-${id}-gzserver`] });
    expect(await sys.registry.archive.read(id, `sim-${id}-gzserver`, 20)).toEqual(expect.arrayContaining(['cannot open display']));
  });
});
