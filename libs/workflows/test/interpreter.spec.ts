import { FaultInjectingNodeProvider, FaultInjectingPodRuntime, FaultInjector, MemoryCloud } from '@simdeploy/cloud';
import { DomainError, command, type Actor, type SimDeployment, type SimulationSpec, type WorkOwner } from '@simdeploy/domain';
import { InMemoryEventStore } from '@simdeploy/event-store';
import { InMemoryCommandBus, InMemoryCommandScheduler, timerMessageId } from '@simdeploy/messaging';
import { waitFor } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import {
  AdmissionLedgers,
  NO_LIMITS,
  capacityLedger,
  quotaLedger,
  type AdmissionSettings,
  DeploymentCommandHandler,
  Dispatcher,
  Interpreter,
  KIND_OF,
  ProviderRegistry,
  ReadinessWatcher,
  SystemClock,
  type LifecycleSettings,
} from '../src';

const USER: Actor = { subject: 'alice', roles: [] };
const SPEC: SimulationSpec = {
  world: 'worlds/warehouse.sdf',
  simulatorImage: 'gazebo/gz-sim:harmonic',
  robots: [{ name: 'x1', image: 'acme/robot:1' }],
  nodeInstanceType: 'g4dn.xlarge',
  labels: {},
};
const SETTINGS: LifecycleSettings = {
  nodeReadyTimeoutMs: 5_000,
  podReadyTimeoutMs: 5_000,
  deletionTimeoutMs: 5_000,
  pollIntervalMs: 10,
  healthPollMs: 10,
  healthRecheckMs: 60_000,
  queueRecheckMs: 60_000,
  capacityRetryMs: 20,
  retry: { maxAttempts: 3, baseDelayMs: 1, maxDelayMs: 5, callTimeoutMs: 1_000 },
};
const OWNERS: WorkOwner[] = ['launcher', 'terminator', 'error-handler'];
const PERMANENT = { code: 'InjectedFault', message: 'injected', transient: false };

/**
 * The launcher, terminator and error handler interpreters over an in-memory event store,
 * command bus and timers, on an in-memory cloud wrapped in the fault injector: the whole
 * lifecycle without NATS, in milliseconds. Each service has its own command handler (its
 * own state cache), as separate processes would.
 */
class MemorySystem {
  readonly store = new InMemoryEventStore();
  readonly bus = new InMemoryCommandBus(10);
  readonly scheduler = new InMemoryCommandScheduler((timer) =>
    this.bus.send({ deploymentId: timer.deploymentId, kind: timer.kind, issuedAt: new Date().toISOString(), reason: 'timer' }, { messageId: timerMessageId(timer) }),
  );
  readonly clock = new SystemClock();
  readonly dispatcher = new Dispatcher(this.bus, this.scheduler, this.clock);
  readonly gateway = new DeploymentCommandHandler(this.store);
  readonly faults = new FaultInjector();
  readonly interpreters = new Map<WorkOwner, Interpreter>();
  readonly watcher: ReadinessWatcher;
  readonly ledgers: AdmissionLedgers;

  constructor(
    readonly cloud: MemoryCloud,
    admission: AdmissionSettings = NO_LIMITS,
    launchers = 1,
    settings: LifecycleSettings = SETTINGS,
  ) {
    const registry = new ProviderRegistry(
      { mem: { nodes: new FaultInjectingNodeProvider(cloud.nodes, this.faults), pods: new FaultInjectingPodRuntime(cloud.pods, this.faults) } },
      'mem',
    );
    this.ledgers = new AdmissionLedgers(this.store, admission, this.clock, (ids, ledger, revision) => this.dispatcher.wakeAdmitted(ids, ledger, revision));
    for (const owner of OWNERS) {
      // Several launcher replicas, each with its own state cache and its own ledgers' cache, race as separate processes would.
      const replicas = Array.from({ length: owner === 'launcher' ? launchers : 1 }, () => {
        const ledgers = new AdmissionLedgers(this.store, admission, this.clock, (ids, ledger, revision) => this.dispatcher.wakeAdmitted(ids, ledger, revision));
        return new Interpreter(owner, new DeploymentCommandHandler(this.store), registry, settings, this.clock, this.dispatcher, this.scheduler, ledgers);
      });
      this.interpreters.set(owner, replicas[0] as Interpreter);
      let turn = 0;
      this.bus.handle(KIND_OF[owner], (message) => (replicas[turn++ % replicas.length] as Interpreter).run(message.deploymentId));
    }
    this.watcher = new ReadinessWatcher(registry, this.scheduler.wheelOf(KIND_OF.launcher), SETTINGS.pollIntervalMs, 1_000, SETTINGS.healthPollMs);
    this.watcher.start();
  }

  /** As the gateway does: decide, append, dispatch. */
  async request(id: string, type: 'RequestLaunch' | 'RequestStop', data: object): Promise<SimDeployment> {
    const result = await this.gateway.handle(id, command(type, data as never, { now: new Date().toISOString(), by: USER }));
    if (result instanceof DomainError || result.state === null) throw new Error(`${type} refused`);
    await this.dispatcher.dispatch(result.state, result.revision, { reason: 'api', before: result.before });
    return result.state;
  }

  async launch(spec: Partial<SimulationSpec> = {}): Promise<string> {
    const id = randomUUID();
    await this.request(id, 'RequestLaunch', { deploymentId: id, owner: USER.subject, spec: { ...SPEC, ...spec }, provider: 'mem' });
    return id;
  }

  stop(id: string): Promise<SimDeployment> {
    return this.request(id, 'RequestStop', { reason: 'user' });
  }

  async until(id: string, predicate: (s: SimDeployment) => boolean, description: string): Promise<SimDeployment> {
    return waitFor(
      async () => {
        const { state } = await this.gateway.load(id);
        return state && predicate(state) ? state : null;
      },
      { timeoutMs: 5_000, intervalMs: 5, description: `${id}: ${description}` },
    );
  }

  async types(id: string): Promise<string[]> {
    return (await this.store.readStream(id)).events.map((e) => e.type);
  }

  async close(): Promise<void> {
    await this.watcher.stop();
    await this.scheduler.stop();
    await this.bus.stop();
  }
}

const RUNNING = ['SimulationRequested', 'NodesLaunchStarted', 'InstanceLaunched', 'InstanceLaunched', 'PodsLaunchStarted', 'WorkloadCreated', 'SimulationRunning'];
/** The cleanup of a deployment whose pods ran: their logs are archived before they are deleted. */
const CLEANUP = ['PodsDeletionStarted', 'LogsArchived', 'NodesDeletionStarted', 'InstancesTerminationStarted', 'SimulationTerminated'];
const CLEANUP_WITHOUT_PODS = CLEANUP.filter((type) => type !== 'LogsArchived');
const terminated = (s: SimDeployment) => s.status === 'Terminated';

describe('the interpreter over in-memory store, bus, timers and cloud', () => {
  let sys: MemorySystem;
  afterEach(async () => {
    expect(sys.bus.errors).toEqual([]);
    await sys.close();
  });

  it('launches to Running creating the workload once while the pods take many polls, then stops to Terminated holding nothing', async () => {
    sys = new MemorySystem(new MemoryCloud({ bootMs: 50, readyMs: 100 }));
    const id = await sys.launch();
    await sys.until(id, (s) => s.status === 'Running', 'running');
    expect(await sys.types(id)).toEqual(RUNNING);
    expect(sys.cloud.count('createWorkload', id)).toBe(1);
    expect(sys.cloud.count('launchNode', id)).toBe(2);

    await sys.stop(id);
    await sys.until(id, terminated, 'terminated');
    expect(await sys.types(id)).toEqual([...RUNNING, 'StopRequested', ...CLEANUP]);
    expect(sys.cloud.held(id)).toEqual({ instances: [], workload: false });
  });

  it('ends waits through the batched check: the machines and pods of many deployments cost a few calls per round, not one per deployment', async () => {
    sys = new MemorySystem(new MemoryCloud({ bootMs: 150, readyMs: 150 }));
    const ids = await Promise.all(Array.from({ length: 50 }, () => sys.launch({ robots: [] })));
    for (const id of ids) await sys.until(id, (s) => s.status === 'Running', 'running');
    // Each deployment checks once when it starts to wait and once when woken; the waiting in between is the watcher's.
    for (const id of ids) {
      expect(sys.cloud.count('checkNodes', id)).toBeLessThanOrEqual(3);
      expect(sys.cloud.count('checkWorkload', id)).toBeLessThanOrEqual(3);
    }
    // The watcher's rounds: a call for all of them at once, a few times while they boot and start.
    expect(sys.cloud.count('checkNodesBatch')).toBeGreaterThan(0);
    expect(sys.cloud.count('checkNodesBatch') + sys.cloud.count('checkWorkloadBatch')).toBeLessThan(ids.length);
  });

  it('a pod that exits during the launch fails it at once with its exit and logs, and the rollback frees everything', async () => {
    sys = new MemorySystem(new MemoryCloud({ readyMs: 60_000 }));
    const id = await sys.launch();
    await sys.until(id, (s) => s.workloadHeld, 'workload created');
    sys.cloud.exit(id, `sim-${id}-gzserver`, 3, ['cannot open display']);
    const final = await sys.until(id, terminated, 'rolled back');
    expect(final.errorStatus).toBe('InitializationFailed');
    expect(final.failures[0]).toMatchObject({ step: 'waitPodsReady', error: { code: 'PodExited', message: expect.stringContaining('cannot open display') } });
    expect(sys.cloud.count('createWorkload', id)).toBe(1);
    expect(sys.cloud.held(id)).toEqual({ instances: [], workload: false });
  });

  it('a stop that overtakes a slow workload creation: the late workload is recorded, then deleted', async () => {
    sys = new MemorySystem(new MemoryCloud());
    const id = randomUUID();
    sys.faults.add({ step: 'createWorkload', mode: 'slow', delayMs: 200, deploymentId: id });
    await sys.request(id, 'RequestLaunch', { deploymentId: id, owner: USER.subject, spec: SPEC, provider: 'mem' });
    await sys.until(id, (s) => s.status === 'LaunchingPods', 'launching pods');
    await sys.stop(id);
    await sys.until(id, terminated, 'terminated while the workload was still being created');
    await waitFor(async () => (await sys.types(id)).includes('WorkloadDeleted'), { description: 'the late workload deleted' });
    const types = await sys.types(id);
    expect(types.slice(types.indexOf('StopRequested'))).toEqual(['StopRequested', ...CLEANUP_WITHOUT_PODS, 'WorkloadCreated', 'LogsArchived', 'WorkloadDeleted']);
    expect(sys.cloud.held(id)).toEqual({ instances: [], workload: false });
  });

  it('a failure while rolling back goes to AdminReview, and nothing more happens by itself', async () => {
    sys = new MemorySystem(new MemoryCloud());
    const id = randomUUID();
    sys.faults.add({ step: 'checkWorkload', mode: 'fail', error: PERMANENT, deploymentId: id });
    sys.faults.add({ step: 'deleteWorkload', mode: 'fail', error: PERMANENT, deploymentId: id });
    await sys.request(id, 'RequestLaunch', { deploymentId: id, owner: USER.subject, spec: SPEC, provider: 'mem' });
    const review = await sys.until(id, (s) => s.errorStatus === 'AdminReview', 'admin review');
    expect(review.status).toBe('DeletingPods');
    expect((await sys.types(id)).slice(-4)).toEqual(['LaunchFailed', 'PodsDeletionStarted', 'LogsArchived', 'AdminReviewRequired']);
  });

  it('the maximum duration is a timer, not a held command: Running holds nothing queued, then it stops itself', async () => {
    sys = new MemorySystem(new MemoryCloud());
    const id = await sys.launch({ maxDurationSeconds: 1 });
    await sys.until(id, (s) => s.status === 'Running', 'running');
    await waitFor(async () => (await sys.scheduler.timerOf(KIND_OF.launcher, id)) !== null, { description: 'timer set' });
    expect(await sys.bus.hasPending(KIND_OF.launcher, id)).toBe(false);
    const final = await sys.until(id, terminated, 'stopped at its maximum duration');
    expect(final.stop).toMatchObject({ reason: 'max-duration', by: { subject: 'service:launcher' } });
  });

  it('a simulator that exits while Running is noticed by the batched health watch: the deployment stops itself, saying why', async () => {
    sys = new MemorySystem(new MemoryCloud());
    const id = await sys.launch();
    await sys.until(id, (s) => s.status === 'Running', 'running');
    await waitFor(async () => (await sys.scheduler.timerOf(KIND_OF.launcher, id))?.watch?.type === 'health', { description: 'health watched' });
    sys.cloud.exit(id, `sim-${id}-gzserver`, 139, ['segmentation fault']);
    const final = await sys.until(id, terminated, 'stopped itself');
    expect(final.logs).toMatchObject({ location: `memory://${id}/sim-${id}-gzserver`, pods: [`sim-${id}-gzserver`, `sim-${id}-robot-0`, `sim-${id}-bridge-0`] });
    expect(final).toMatchObject({ errorStatus: null, stop: { reason: 'workload-failed' }, workloadFailure: { error: { code: 'PodExited' }, logs: ['segmentation fault'] } });
    expect((await sys.types(id)).slice(RUNNING.length)).toEqual(['WorkloadFailed', 'StopRequested', ...CLEANUP]);
    expect(sys.cloud.held(id)).toEqual({ instances: [], workload: false });
  });

  it('an owner at the limit: five more launches queue and start one by one as earlier ones stop, in order', async () => {
    sys = new MemorySystem(new MemoryCloud(), { quota: { maxActive: 2, maxQueued: 10 }, capacity: {} });
    const running = [await sys.launch(), await sys.launch()];
    for (const id of running) await sys.until(id, (s) => s.status === 'Running', 'running');
    const waiting: string[] = [];
    for (let i = 0; i < 5; i++) waiting.push(await sys.launch());
    for (const id of waiting) await sys.until(id, (s) => s.admission?.state === 'queued', 'queued');
    expect(await sys.ledgers.standing(quotaLedger('owner:alice'), waiting[4] as string)).toEqual({ queued: true, place: 5 });
    expect(sys.cloud.instances.size).toBe(4);

    const started: string[] = [];
    const stopping = [...running];
    while (started.length < waiting.length) {
      await sys.stop(stopping.shift() as string);
      const next = waiting[started.length] as string;
      await sys.until(next, (s) => s.status === 'Running', 'its turn came');
      started.push(next);
      stopping.push(next);
      // Only the head of the line moved.
      for (const later of waiting.slice(started.length)) expect((await sys.gateway.load(later)).state?.status).toBe('Pending');
    }
    expect(started).toEqual(waiting);
    for (const id of stopping) await sys.stop(id);
    for (const id of [...running, ...waiting]) await sys.until(id, (s) => terminated(s) && s.admission?.released === true, 'released');
  });

  it('a stop of a queued launch ends it without provisioning anything, and frees no place', async () => {
    sys = new MemorySystem(new MemoryCloud(), { quota: { maxActive: 1, maxQueued: 10 }, capacity: {} });
    const first = await sys.launch();
    await sys.until(first, (s) => s.status === 'Running', 'running');
    const [queued, behind] = [await sys.launch(), await sys.launch()];
    await sys.until(behind as string, (s) => s.admission?.state === 'queued', 'queued');
    await sys.stop(queued as string);
    const final = await sys.until(queued as string, (s) => terminated(s) && s.admission?.released === true, 'ended and released');
    expect(final.nodes.every((n) => !n.instanceId)).toBe(true);
    expect(sys.cloud.count('launchNode', queued)).toBe(0);
    // The one behind it is now first in line, still waiting for the running one.
    expect(await sys.ledgers.standing(quotaLedger('owner:alice'), behind as string)).toEqual({ queued: true, place: 1 });
    expect((await sys.gateway.load(behind as string)).state?.status).toBe('Pending');
  });

  it('a full line rejects the launch with the reason', async () => {
    sys = new MemorySystem(new MemoryCloud(), { quota: { maxActive: 1, maxQueued: 1 }, capacity: {} });
    await sys.until(await sys.launch(), (s) => s.status === 'Running', 'running');
    await sys.until(await sys.launch(), (s) => s.admission?.state === 'queued', 'queued');
    const rejected = await sys.until(await sys.launch(), (s) => s.status === 'Rejected', 'rejected');
    expect(rejected.rejection?.reason).toMatch(/1 launch is already waiting/);
  });

  it('a capacity limit holds with three launcher replicas racing', async () => {
    const cloud = new MemoryCloud({ bootMs: 30 });
    sys = new MemorySystem(cloud, { quota: { maxActive: null, maxQueued: null }, capacity: { 'mem:g4dn.xlarge': 4 } }, 3);
    let most = 0;
    const sampler = setInterval(() => (most = Math.max(most, cloud.instances.size)), 2);
    const ids = await Promise.all(Array.from({ length: 12 }, () => sys.launch()));
    for (const id of ids) await sys.until(id, (s) => s.status === 'Running' || s.admission?.state === 'queued', 'running or queued');
    expect((await sys.ledgers.view(capacityLedger('mem:g4dn.xlarge'))).used).toBe(4);
    for (const id of ids) {
      const { state } = await sys.gateway.load(id);
      if (state?.status === 'Running') await sys.stop(id);
    }
    // Stopping frees machines for the next in line, until all 12 ran (stopped as soon as they run).
    await waitFor(async () => {
      let done = 0;
      for (const id of ids) {
        const { state } = await sys.gateway.load(id);
        if (state?.status === 'Running') await sys.stop(id);
        if (state && terminated(state)) done++;
      }
      return done === ids.length;
    }, { timeoutMs: 10_000, description: 'all ran and ended' });
    clearInterval(sampler);
    // Each deployment needs 2 machines (simulator and robots): never more than 4 at once.
    expect(most).toBeLessThanOrEqual(4);
  });

  it('a provider too slow to answer in time slows deployments down; none enters an error status', async () => {
    const slow = { ...SETTINGS, retry: { ...SETTINGS.retry, callTimeoutMs: 50 } };
    sys = new MemorySystem(new MemoryCloud(), NO_LIMITS, 1, slow);
    // Every try of these steps times out three times (a whole step's attempts), then answers.
    for (const step of ['launchNode', 'createWorkload', 'deleteWorkload', 'deleteNodes'] as const) {
      sys.faults.add({ step, mode: 'slow', delayMs: 80, times: 3 });
    }
    const ids = await Promise.all(Array.from({ length: 5 }, () => sys.launch({ robots: [] })));
    for (const id of ids) await sys.until(id, (s) => s.status === 'Running', 'running, late');
    for (const id of ids) await sys.stop(id);
    for (const id of ids) {
      const final = await sys.until(id, terminated, 'terminated, late');
      expect(final.errorStatus).toBeNull();
      expect(final.failures).toEqual([]);
      expect(sys.faults.count('createWorkload', id)).toBeGreaterThanOrEqual(4);
    }
  });

  it('a stop while waiting for machines drops the launcher\'s timer', async () => {
    sys = new MemorySystem(new MemoryCloud({ bootMs: 60_000 }));
    const id = await sys.launch();
    await waitFor(async () => (await sys.scheduler.timerOf(KIND_OF.launcher, id)) !== null, { description: 'waiting for machines' });
    await sys.stop(id);
    expect(await sys.scheduler.timerOf(KIND_OF.launcher, id)).toBeNull();
    await sys.until(id, terminated, 'terminated');
    expect(sys.cloud.held(id)).toEqual({ instances: [], workload: false });
  });
});
