import { randomBytes } from 'node:crypto';
import { clientTokenFor, planNodes, planWorkload, type NodeRecord, type NodeRole, type SimulationSpec } from '@simdeploy/domain';
import { ProviderError, type LaunchedNode, type NodeProvider, type NodeRequest, type PodRuntime, type ReadinessCheck, type WorkloadRequest } from '../ports';

/**
 * The behaviour every NodeProvider and PodRuntime adapter must show, as Jest suites. Import it
 * from a spec file (it is deliberately not exported from the library's index) with a fixture
 * that builds the adapters over a private backing state: a temp state directory, a private
 * bucket, an aws-sdk-client-mock'ed EC2 client, a nock'ed Kubernetes API.
 *
 * Time is the fixture's: a fixture sets its adapters up so that what was just launched or
 * created is not ready yet, and makes it ready in `progress()` (advancing a fake clock, or
 * switching the double's answers), or within readyWithinMs of real time.
 */
export interface NodeProviderFixture {
  nodes: NodeProvider;
  /** The same provider as another process would hold it (the terminator beside the launcher), over the same state. */
  otherProcess?: NodeProvider;
  /** Over the same state, with no capacity left: every launch gets a transient capacity error. */
  withoutCapacity?: NodeProvider;
  /** Over the same state, with machines that fail their status checks once booted. */
  failingMachines?: NodeProvider;
  /** Makes booting machines run: advance the clock, or change what the double answers. */
  progress(): Promise<void> | void;
  /** How long after progress() machines may take to be ready. */
  readyWithinMs: number;
  /**
   * For a provider whose listings lag its launches (EC2's DescribeInstances does not show an
   * instance for a few seconds after RunInstances: eventual consistency): lets them catch up,
   * as the time between a launch and the orphan sweep, or the cleanup of an instance that was
   * never recorded, does in production. The suite calls it after launching and before it
   * expects to find the launches by listing or by deployment; without it, it expects them at once.
   */
  catchUp?(): Promise<void> | void;
  teardown(): Promise<void>;
}

export interface PodRuntimeFixture {
  pods: PodRuntime;
  otherProcess?: PodRuntime;
  /** Over the same state, with a simulator pod whose command exits with a non-zero code after printing a line. */
  failingPods: PodRuntime;
  /** The deployment's machines as nodes the pods can be pinned to; planned nodes without names when the runtime needs none. */
  nodesFor(deploymentId: string, spec: SimulationSpec): Promise<NodeRecord[]>;
  /**
   * The machines nodesFor answers join only on progress(), and pods can only be placed on
   * nodes the runtime has seen join (Kubernetes: checkNodesJoined puts the
   * node-restriction.kubernetes.io/ labels the pods are pinned on, which no kubelet may set).
   * The suite then expects the nodes pending until progress(), and before it creates a
   * workload lets its nodes join and checks them, as the lifecycle does before LaunchingPods.
   */
  nodesJoinOnProgress?: boolean;
  progress(): Promise<void> | void;
  readyWithinMs: number;
  teardown(): Promise<void>;
}

export interface ContractOptions {
  /** Registers the whole suite as skipped, with this reason in its name. */
  skipReason?: string | null;
}

export const contractDeploymentId = (): string => `c${randomBytes(5).toString('hex')}`;

export const contractSpec = (robots = 1): SimulationSpec => ({
  world: 'empty.sdf',
  simulatorImage: 'gz-sim:8',
  robots: Array.from({ length: robots }, (_, i) => ({ name: `robot${i}`, image: 'robot:1' })),
  nodeInstanceType: 'm5.large',
  labels: {},
});

const nodeRequest = (deploymentId: string, role: NodeRole = 'simulator', index = 0): NodeRequest => ({
  deploymentId,
  owner: 'alice',
  role,
  index,
  clientToken: clientTokenFor(deploymentId, role, index),
  instanceType: 'm5.large',
  labels: {},
});

/** Polls until `check` answers something; fails when the deadline passes first (no fixed sleeps). */
async function eventually<T>(check: () => Promise<T | undefined | false>, timeoutMs: number, what: string): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (error) {
      last = error;
    }
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms${last instanceof Error ? `: ${last.message}` : ''}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

const LIVE = (state: string) => !['shutting-down', 'terminated'].includes(state);

function registerSkipped(name: string, reason: string): void {
  describe.skip(`${name} (skipped: ${reason})`, () => {
    it('is skipped', () => undefined);
  });
}

function useFixture<F extends { teardown(): Promise<void> }>(name: string, setup: () => Promise<F>): () => F {
  let fixture: F | undefined;
  beforeAll(async () => {
    fixture = await setup();
  }, 60_000);
  afterAll(async () => {
    await fixture?.teardown();
  }, 60_000);
  return () => {
    if (!fixture) throw new Error(`${name} contract: the fixture did not set up`);
    return fixture;
  };
}

export function describeNodeProviderContract(name: string, setup: () => Promise<NodeProviderFixture>, options: ContractOptions = {}): void {
  if (options.skipReason) return registerSkipped(`${name} node provider contract`, options.skipReason);

  describe(`${name} node provider contract`, () => {
    const f = useFixture(name, setup);
    const catchUp = async () => {
      await f().catchUp?.();
    };

    it('returns the same instance for the same client token, one after the other and concurrently', async () => {
      const { nodes } = f();
      const id = contractDeploymentId();
      const first = await nodes.launchNode(nodeRequest(id));
      expect(await nodes.launchNode(nodeRequest(id))).toEqual(first);
      const concurrent = await Promise.all(Array.from({ length: 8 }, () => nodes.launchNode(nodeRequest(id, 'robots'))));
      expect(new Set(concurrent.map((n) => n.instanceId)).size).toBe(1);
      expect(concurrent[0]?.instanceId).not.toBe(first.instanceId);

      await catchUp();
      const listed = (await nodes.listManagedInstances()).filter((i) => i.deploymentId === id && LIVE(i.state));
      expect(listed.map((i) => i.instanceId).sort()).toEqual([first.instanceId, concurrent[0]?.instanceId].sort());
      expect(listed.every((i) => typeof i.launchedAt === 'string' && !Number.isNaN(Date.parse(i.launchedAt)))).toBe(true);
    });

    it('returns the same instance to another process launching the same token, which also finds it by deployment', async () => {
      const { nodes, otherProcess } = f();
      if (!otherProcess) return;
      const id = contractDeploymentId();
      const launched = await nodes.launchNode(nodeRequest(id));
      expect(await otherProcess.launchNode(nodeRequest(id))).toEqual(launched);
      await catchUp();
      expect(await otherProcess.terminateDeployment(id)).toEqual([launched.instanceId]);
      expect((await nodes.listManagedInstances()).filter((i) => i.deploymentId === id && LIVE(i.state))).toEqual([]);
    });

    it('reports machines pending while they boot, then ready, and a batch answers as the single checks do', async () => {
      const fixture = f();
      const ids = [contractDeploymentId(), contractDeploymentId()];
      const launched = new Map<string, LaunchedNode[]>();
      for (const id of ids) launched.set(id, [await fixture.nodes.launchNode(nodeRequest(id)), await fixture.nodes.launchNode(nodeRequest(id, 'robots'))]);
      const requests = ids.map((deploymentId) => ({ deploymentId, nodes: launched.get(deploymentId) ?? [] }));

      const pending = await fixture.nodes.checkNodesBatch(requests);
      for (const r of requests) {
        expect(pending.get(r.deploymentId)).toMatchObject({ state: 'pending' });
        expect((await fixture.nodes.checkNodes(r.deploymentId, r.nodes)).state).toBe('pending');
      }

      await fixture.progress();
      await eventually(async () => (await fixture.nodes.checkNodes(ids[0] as string, requests[0]?.nodes ?? [])).state === 'ready', fixture.readyWithinMs, 'machines ready');
      const ready = await fixture.nodes.checkNodesBatch(requests);
      for (const r of requests) {
        expect(ready.get(r.deploymentId)).toEqual({ state: 'ready' });
        expect(await fixture.nodes.checkNodes(r.deploymentId, r.nodes)).toEqual(ready.get(r.deploymentId));
      }
      expect(await fixture.nodes.checkNodesBatch([])).toEqual(new Map());
    });

    it('terminates instances, twice without complaint, and unknown ids are done', async () => {
      const { nodes } = f();
      const id = contractDeploymentId();
      const launched = await nodes.launchNode(nodeRequest(id));
      await nodes.terminateInstances(id, [launched.instanceId]);
      await nodes.terminateInstances(id, [launched.instanceId]);
      await nodes.terminateInstances(id, []);
      expect((await nodes.listManagedInstances()).filter((i) => i.deploymentId === id && LIVE(i.state))).toEqual([]);
      expect(await nodes.terminateDeployment(id)).toEqual([]);
      expect(await nodes.terminateDeployment(contractDeploymentId())).toEqual([]);
    });

    it('terminates by deployment what was launched but never recorded', async () => {
      const { nodes } = f();
      const id = contractDeploymentId();
      const launched = await Promise.all([nodes.launchNode(nodeRequest(id)), nodes.launchNode(nodeRequest(id, 'robots'))]);
      const other = await nodes.launchNode(nodeRequest(contractDeploymentId()));
      await catchUp();
      expect((await nodes.terminateDeployment(id)).sort()).toEqual(launched.map((n) => n.instanceId).sort());
      expect(await nodes.terminateDeployment(id)).toEqual([]);
      expect((await nodes.listManagedInstances()).some((i) => i.instanceId === other.instanceId && LIVE(i.state))).toBe(true);
    });

    it('refuses a launch with a transient capacity error when there is no capacity', async () => {
      const { withoutCapacity } = f();
      if (!withoutCapacity) return;
      const refused = await withoutCapacity.launchNode(nodeRequest(contractDeploymentId())).catch((error: unknown) => error);
      expect(refused).toBeInstanceOf(ProviderError);
      expect(refused).toMatchObject({ code: 'InsufficientInstanceCapacity', transient: true });
    });

    it('reports a machine that fails its status checks as failed, permanently', async () => {
      const fixture = f();
      if (!fixture.failingMachines) return;
      const failing = fixture.failingMachines;
      const id = contractDeploymentId();
      const node = await failing.launchNode(nodeRequest(id));
      await fixture.progress();
      const check = await eventually(async () => {
        const result = await failing.checkNodes(id, [node]);
        return result.state === 'failed' ? result : undefined;
      }, fixture.readyWithinMs, 'the machine failed');
      expect(check.error).toMatchObject({ transient: false });
      expect(check.error.message).toContain(node.instanceId);
      await failing.terminateDeployment(id);
    });
  });
}

export function describePodRuntimeContract(name: string, setup: () => Promise<PodRuntimeFixture>, options: ContractOptions = {}): void {
  if (options.skipReason) return registerSkipped(`${name} pod runtime contract`, options.skipReason);

  describe(`${name} pod runtime contract`, () => {
    const f = useFixture(name, setup);

    const nodeNamesOf = (nodes: readonly NodeRecord[]) => nodes.flatMap((n) => (n.nodeName ? [n.nodeName] : []));

    const joined = async (deploymentId: string, nodes: readonly NodeRecord[]) => {
      const fixture = f();
      await fixture.progress();
      await eventually(
        async () => (await fixture.pods.checkNodesJoined(deploymentId, nodeNamesOf(nodes))).state === 'ready',
        fixture.readyWithinMs,
        `nodes of ${deploymentId} joined`,
      );
    };

    /** A deployment's workload request, with nodes ready for its pods. */
    async function request(spec = contractSpec()): Promise<WorkloadRequest> {
      const deploymentId = contractDeploymentId();
      const nodes = await f().nodesFor(deploymentId, spec);
      if (f().nodesJoinOnProgress) await joined(deploymentId, nodes);
      return { deploymentId, owner: 'alice', spec, plan: planWorkload(deploymentId, spec), nodes };
    }

    const untilGone = (pods: PodRuntime, deploymentId: string) =>
      eventually(async () => (await pods.deleteWorkload(deploymentId)).gone, 30_000, `workload of ${deploymentId} deleted`);

    it('reports the nodes of a deployment joined once its machines run', async () => {
      const fixture = f();
      const deploymentId = contractDeploymentId();
      const r = { deploymentId, nodes: await fixture.nodesFor(deploymentId, contractSpec()) };
      const names = nodeNamesOf(r.nodes);
      if (fixture.nodesJoinOnProgress) expect(await fixture.pods.checkNodesJoined(r.deploymentId, names)).toMatchObject({ state: 'pending' });
      await fixture.progress();
      await eventually(async () => (await fixture.pods.checkNodesJoined(r.deploymentId, names)).state === 'ready', fixture.readyWithinMs, 'nodes joined');
      const batch = await fixture.pods.checkNodesJoinedBatch([{ deploymentId: r.deploymentId, nodeNames: names }]);
      expect(batch.get(r.deploymentId)).toEqual({ state: 'ready' });
    });

    it('creates a workload once, however often and from however many processes it is asked', async () => {
      const { pods, otherProcess } = f();
      const r = await request();
      await Promise.all([pods.createWorkload(r), pods.createWorkload(r), (otherProcess ?? pods).createWorkload(r)]);
      await pods.createWorkload(r);
      const listed = (await pods.listManagedWorkloads()).filter((w) => w.deploymentId === r.deploymentId);
      expect(listed).toHaveLength(1);
      expect([...(listed[0]?.pods ?? [])].sort()).toEqual(r.plan.pods.map((p) => p.name).sort());
      await untilGone(pods, r.deploymentId);
    });

    it('reports pods pending, then ready, and a batch answers as the single checks do', async () => {
      const fixture = f();
      const [a, b] = [await request(), await request(contractSpec(0))];
      const unknown = await request();
      await Promise.all([fixture.pods.createWorkload(a), fixture.pods.createWorkload(b)]);
      const requests = [a, b, unknown].map((r) => ({ deploymentId: r.deploymentId, pods: r.plan.pods }));

      const first = await fixture.pods.checkWorkloadBatch(requests);
      for (const r of requests) expect(first.get(r.deploymentId)).toMatchObject({ state: 'pending' });

      await fixture.progress();
      await eventually(async () => {
        const batch = await fixture.pods.checkWorkloadBatch(requests.slice(0, 2));
        return [...batch.values()].every((c) => c.state === 'ready');
      }, fixture.readyWithinMs, 'pods ready');
      const batch = await fixture.pods.checkWorkloadBatch(requests);
      for (const r of requests) expect(batch.get(r.deploymentId)).toEqual(await fixture.pods.checkWorkload(r.deploymentId, r.pods));
      expect(batch.get(a.deploymentId)).toEqual({ state: 'ready' });
      expect(batch.get(unknown.deploymentId)).toMatchObject({ state: 'pending' });
      await Promise.all([untilGone(fixture.pods, a.deploymentId), untilGone(fixture.pods, b.deploymentId)]);
    });

    it('reports a pod whose command exits as failed with its reason and log lines, and never starts it again', async () => {
      const fixture = f();
      const r = await request(contractSpec(0));
      await fixture.failingPods.createWorkload(r);
      await fixture.progress();
      const failed = await eventually(async () => {
        const check: ReadinessCheck = await fixture.failingPods.checkWorkload(r.deploymentId, r.plan.pods);
        return check.state === 'failed' ? check : undefined;
      }, fixture.readyWithinMs, 'the pod failed');
      const pod = r.plan.pods[0]?.name as string;
      expect(failed.error).toMatchObject({ code: 'PodExited', transient: false });
      expect(failed.error.message).toContain(pod);
      expect(failed.error.message).toMatch(/code \d+|signal/);
      expect(failed.logs?.length).toBeGreaterThan(0);

      await fixture.failingPods.createWorkload(r);
      expect(await fixture.failingPods.checkWorkload(r.deploymentId, r.plan.pods)).toMatchObject({ state: 'failed', error: { code: 'PodExited' } });
      expect((await fixture.pods.readLogs(r.deploymentId, pod, 50)).length).toBeGreaterThan(0);
      await untilGone(fixture.pods, r.deploymentId);
    });

    it('deletes a workload until it is gone, again without complaint, and an unknown one is gone', async () => {
      const { pods } = f();
      const r = await request();
      await pods.createWorkload(r);
      await untilGone(pods, r.deploymentId);
      expect(await pods.deleteWorkload(r.deploymentId)).toMatchObject({ gone: true });
      expect(await pods.deleteWorkload(contractDeploymentId())).toMatchObject({ gone: true });
      expect((await pods.listManagedWorkloads()).filter((w) => w.deploymentId === r.deploymentId && w.pods.length > 0)).toEqual([]);
      expect(await pods.readLogs(contractDeploymentId(), 'no-such-pod', 10)).toEqual([]);
    });

    it('deletes the nodes of a deployment, again without complaint', async () => {
      const { pods } = f();
      const r = await request();
      const names = nodeNamesOf(r.nodes);
      await eventually(async () => (await pods.deleteNodes(r.deploymentId, names)).gone, 30_000, 'nodes deleted');
      expect(await pods.deleteNodes(r.deploymentId, names)).toMatchObject({ gone: true });
      expect(await pods.deleteNodes(contractDeploymentId(), [])).toMatchObject({ gone: true });
    });
  });
}

/** Planned nodes with the names a NodeProvider gave them: for a fixture that pairs one with its runtime. */
export async function launchNodesWith(nodes: NodeProvider, deploymentId: string, spec: SimulationSpec): Promise<NodeRecord[]> {
  return Promise.all(
    planNodes(deploymentId, spec).map(async (plan) => {
      const launched = await nodes.launchNode({ ...nodeRequest(deploymentId, plan.role, plan.index), instanceType: plan.instanceType });
      return { ...plan, ...launched };
    }),
  );
}
