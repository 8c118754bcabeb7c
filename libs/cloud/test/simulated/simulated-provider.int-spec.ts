import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { clientTokenFor, planNodes, planWorkload, type NodeRole, type SimulationSpec } from '@simdeploy/domain';
import { uniqueName, waitFor } from '@simdeploy/testing';
import { ProviderError, type NodeRequest } from '../../src/ports';
import { createSimulatedProviders, sampleDelay, type SimulatedProviderOptions, type SimulatedProviders } from '../../src/simulated';

const spec: SimulationSpec = { world: 'w.sdf', simulatorImage: 'gz', robots: [{ name: 'r', image: 'r:1' }], nodeInstanceType: 'm5.large', labels: {} };
const request = (deploymentId: string, role: NodeRole = 'simulator'): NodeRequest => ({
  deploymentId,
  owner: 'alice',
  role,
  index: 0,
  clientToken: clientTokenFor(deploymentId, role, 0),
  instanceType: 'm5.large',
  labels: {},
});
let counter = 0;
const newId = () => `s${process.pid}-${counter++}`;

describe('simulated provider', () => {
  let nc: NatsConnection;
  let bucket: string;
  let now: number;
  const opened: SimulatedProviders[] = [];
  /** Another call is another mirror of the same bucket, as another process would hold. */
  const open = async (options: SimulatedProviderOptions = {}) => {
    const providers = await createSimulatedProviders(nc, { bucket, clock: () => now, ...options });
    opened.push(providers);
    return providers;
  };

  beforeAll(async () => {
    nc = await connect({ servers: process.env['NATS_URL'] });
  });
  beforeEach(() => {
    bucket = uniqueName('SIMT');
    now = 1_700_000_000_000;
  });
  afterEach(async () => {
    opened.splice(0).forEach((p) => p.close());
    await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`).catch(() => undefined);
  });
  afterAll(async () => {
    await nc.close();
  });

  it('becomes ready exactly when the recorded launch time plus the drawn boot delay has passed, in every process', async () => {
    const launcher = await open({ bootDelay: { kind: 'uniform', minMs: 10_000, maxMs: 20_000 }, seed: 7 });
    const terminator = await open({ bootDelay: { kind: 'uniform', minMs: 10_000, maxMs: 20_000 }, seed: 7 });
    const id = newId();
    const node = await launcher.nodes.launchNode(request(id));
    const bootMs = sampleDelay({ kind: 'uniform', minMs: 10_000, maxMs: 20_000 }, 7, `boot:${clientTokenFor(id, 'simulator', 0)}`);
    expect(bootMs).toBeGreaterThanOrEqual(10_000);
    expect(bootMs).toBeLessThanOrEqual(20_000);

    now += bootMs - 1;
    expect(await launcher.nodes.checkNodes(id, [node])).toMatchObject({ state: 'pending', reason: { code: 'InstanceBooting' } });
    await waitFor(async () => (await terminator.nodes.checkNodes(id, [node])).state === 'pending');
    now += 1;
    expect(await launcher.nodes.checkNodes(id, [node])).toEqual({ state: 'ready' });
    expect(await terminator.nodes.checkNodes(id, [node])).toEqual({ state: 'ready' });
  });

  it('draws normal delays around their mean, never below zero, the same for the same seed', () => {
    const normal = { kind: 'normal', meanMs: 30_000, stddevMs: 5_000 } as const;
    const draws = Array.from({ length: 2_000 }, (_, i) => sampleDelay(normal, 3, `k${i}`));
    const mean = draws.reduce((a, b) => a + b, 0) / draws.length;
    const stddev = Math.sqrt(draws.reduce((a, b) => a + (b - mean) ** 2, 0) / draws.length);
    expect(Math.abs(mean - 30_000)).toBeLessThan(500);
    expect(Math.abs(stddev - 5_000)).toBeLessThan(500);
    expect(sampleDelay({ kind: 'normal', meanMs: 10, stddevMs: 1_000 }, 3, 'k1')).toBeGreaterThanOrEqual(0);
    expect(draws.slice(0, 10)).toEqual(Array.from({ length: 10 }, (_, i) => sampleDelay(normal, 3, `k${i}`)));
    expect(draws.slice(0, 10)).not.toEqual(Array.from({ length: 10 }, (_, i) => sampleDelay(normal, 4, `k${i}`)));
  });

  it('fails, throttles, slows down or hangs the calls named in its faults', async () => {
    const failing = await open({ faults: [{ target: 'launchNode', mode: 'fail', rate: 1 }] });
    await expect(failing.nodes.launchNode(request(newId()))).rejects.toMatchObject({ code: 'SimulatedFault', transient: false });
    const throttled = await open({ faults: [{ target: 'checkWorkload', mode: 'throttle', rate: 1 }] });
    const error = await throttled.pods.checkWorkload(newId(), []).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'RequestLimitExceeded', transient: true });

    const slow = await open({ faults: [{ target: 'checkNodes', mode: 'slow', rate: 1, delayMs: 200 }] });
    const started = Date.now();
    await slow.nodes.checkNodesBatch([]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(190);

    const hanging = await open({ faults: [{ target: 'createWorkload', mode: 'hang', rate: 1 }] });
    const abort = new AbortController();
    const id = newId();
    const call = hanging.pods.createWorkload({ deploymentId: id, owner: 'a', spec, plan: planWorkload(id, spec), nodes: planNodes(id, spec) }, abort.signal);
    const outcome = await Promise.race([call.then(() => 'answered', () => 'rejected'), new Promise((resolve) => setTimeout(() => resolve('still waiting'), 300))]);
    expect(outcome).toBe('still waiting');
    abort.abort();
    await expect(call).rejects.toMatchObject({ code: 'Aborted' });

    // A rate is a probability per call.
    const sometimes = await open({ faults: [{ target: 'deleteNodes', mode: 'throttle', rate: 0.5 }], seed: 11 });
    const results = await Promise.all(Array.from({ length: 200 }, () => sometimes.pods.deleteNodes('x', []).then(() => 'ok', () => 'throttled')));
    const throttledShare = results.filter((r) => r === 'throttled').length / results.length;
    expect(throttledShare).toBeGreaterThan(0.35);
    expect(throttledShare).toBeLessThan(0.65);
  });

  it('keeps a machine that hangs at boot pending for ever, and a pod that hangs unready', async () => {
    const sim = await open({ faults: [{ target: 'boot', mode: 'hang', rate: 1 }, { target: 'pod', mode: 'hang', rate: 1 }] });
    const id = newId();
    const node = await sim.nodes.launchNode(request(id));
    await sim.pods.createWorkload({ deploymentId: id, owner: 'a', spec, plan: planWorkload(id, spec), nodes: planNodes(id, spec) });
    now += 365 * 24 * 3600_000;
    expect(await sim.nodes.checkNodes(id, [node])).toMatchObject({ state: 'pending' });
    expect(await sim.pods.checkWorkload(id, planWorkload(id, spec).pods)).toEqual({ state: 'pending', detail: expect.stringContaining('not ready') });
  });

  it("shows another process's launches and workloads to the sweep at once", async () => {
    const launcher = await open();
    const sweeper = await open();
    const id = newId();
    const node = await launcher.nodes.launchNode(request(id));
    await launcher.pods.createWorkload({ deploymentId: id, owner: 'a', spec, plan: planWorkload(id, spec), nodes: planNodes(id, spec) });
    expect(await sweeper.nodes.listManagedInstances()).toEqual([
      { instanceId: node.instanceId, deploymentId: id, state: 'running', launchedAt: new Date(now).toISOString(), clientToken: clientTokenFor(id, 'simulator', 0) },
    ]);
    expect(await sweeper.pods.listManagedWorkloads()).toEqual([{ deploymentId: id, pods: planWorkload(id, spec).pods.map((p) => p.name) }]);
    // A process started later loads what is there from the bucket.
    const late = await open();
    expect(await late.nodes.terminateDeployment(id)).toEqual([node.instanceId]);
    expect(await late.pods.deleteWorkload(id)).toEqual({ gone: true });
    expect(await launcher.nodes.listManagedInstances()).toEqual([]);
    expect(await launcher.pods.listManagedWorkloads()).toEqual([]);
  });

  it('answers a launch retried after the terminate with the terminated machine, as EC2 does, until the tombstone is forgotten', async () => {
    const sim = await open({ tombstoneRetentionMs: 1_000 });
    const id = newId();
    const node = await sim.nodes.launchNode(request(id));
    await sim.nodes.terminateInstances(id, [node.instanceId]);
    expect(await sim.nodes.launchNode(request(id))).toEqual(node);
    expect(await sim.nodes.checkNodes(id, [node])).toMatchObject({ state: 'failed', error: { code: 'InstanceNotRunning' } });
    now += 2_000;
    const forgotten = async (providers: SimulatedProviders) => {
      const check = await providers.nodes.checkNodes(id, [node]);
      return check.state === 'failed' && check.error.code === 'InstanceNotFound';
    };
    await waitFor(() => forgotten(sim), { timeoutMs: 5_000, description: 'tombstone forgotten' });
    expect(await forgotten(await open())).toBe(true);
  });

  it('refuses launches beyond its capacity, counting every process', async () => {
    const a = await open({ capacity: 2 });
    const b = await open({ capacity: 2 });
    const id = newId();
    await a.nodes.launchNode(request(id, 'simulator'));
    await a.nodes.launchNode(request(id, 'robots'));
    await waitFor(async () => (await b.nodes.listManagedInstances()).length === 2);
    await expect(b.nodes.launchNode(request(newId()))).rejects.toMatchObject({ code: 'InsufficientInstanceCapacity', transient: true });
    // A retry of a launch that got its machine still succeeds, in a process that never saw it too.
    const c = await open({ capacity: 2 });
    await expect(c.nodes.launchNode(request(id, 'robots'))).resolves.toMatchObject({ nodeName: expect.stringContaining(id) });
    await a.nodes.terminateDeployment(id);
    await waitFor(() => b.nodes.launchNode(request(newId())).then(() => true, () => false), { description: 'capacity freed in the other process' });
  });
});
