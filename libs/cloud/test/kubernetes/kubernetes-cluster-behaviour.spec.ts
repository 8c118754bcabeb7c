import { ProviderError } from '../../src';
import { FakeCluster, status } from './fake-kubernetes-api';
import type { Obj } from './fake-kubernetes-api';
import { ID, NS, PODS, ROBOT_NODE, SIM_NODE, launched, plan, request, runtimeFor, setup, useFakeApi } from './fixtures';

/**
 * What a real cluster does that a naive double never showed (issue 18): stuck terminations,
 * names still being deleted, drains that must wait, disruption budgets, plans with unknown
 * node names, and readiness details.
 */
useFakeApi();

const runAll = (cluster: FakeCluster) => {
  for (const pod of plan.pods) cluster.run(pod.name);
};

describe('pods stuck Terminating on a lost node (finding 1)', () => {
  it('force-deletes them once their grace period and the force-delete delay are over, and reports them', async () => {
    const { cluster, runtime, clock } = await launched();
    runAll(cluster);
    cluster.setNodeReady(ROBOT_NODE, false);

    await expect(runtime.deleteWorkload(ID)).resolves.toMatchObject({ gone: false });
    expect(cluster.get('pods', 'sim-d1-robot-0')?.metadata.deletionTimestamp).toBeDefined();

    clock.advance(30 + 60);
    const result = await runtime.deleteWorkload(ID);

    expect(result).toMatchObject({ gone: true, forced: [`${NS}/sim-d1-bridge-0`, `${NS}/sim-d1-robot-0`] });
    expect(result.detail).toContain(ROBOT_NODE);
    const force = cluster.requests.filter((r) => r.method === 'DELETE' && r.path.includes('gracePeriodSeconds=0'));
    expect(force.map((r) => r.path.split('?')[0])).toEqual([`${PODS}/sim-d1-bridge-0`, `${PODS}/sim-d1-robot-0`]);
    // Only the pod that was seen is force-deleted, never a new one of the same name.
    expect(force[0].body).toMatchObject({ preconditions: { uid: expect.stringMatching(/^uid-/) } });
  });

  it('force-deletes pods whose node object is gone', async () => {
    const { cluster, runtime, clock } = await launched();
    runAll(cluster);
    cluster.setNodeReady(SIM_NODE, false);
    await runtime.deleteWorkload(ID);
    cluster.removeNode(SIM_NODE);
    clock.advance(90);
    await expect(runtime.deleteWorkload(ID)).resolves.toMatchObject({ gone: true, forced: [`${NS}/sim-d1-gzserver`] });
  });

  it('leaves a pod on a Ready node to terminate gracefully, however long it takes within its grace period', async () => {
    const { cluster, runtime, clock } = await launched();
    runAll(cluster);
    cluster.slowToTerminate('sim-d1-gzserver');
    await runtime.deleteWorkload(ID);
    clock.advance(20);
    const result = await runtime.deleteWorkload(ID);
    expect(result).toMatchObject({ gone: false });
    expect(result.forced ?? []).toEqual([]);
    expect(result.detail).toContain('sim-d1-gzserver');
    expect(cluster.requests.some((r) => r.path.includes('gracePeriodSeconds=0'))).toBe(false);
  });
});

describe('a 409 on create (finding 2)', () => {
  it('is a transient error while an object of the same name is still being deleted', async () => {
    const { cluster, runtime } = await launched();
    runAll(cluster);
    cluster.slowToTerminate('sim-d1-gzserver');
    await runtime.deleteWorkload(ID);

    const error = await runtime.createWorkload(request).catch((e: unknown) => e);

    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code: 'ObjectBeingDeleted', transient: true });
    expect((error as Error).message).toContain('sim-d1-gzserver');
  });

  it('is a permanent error naming the owner when the name belongs to someone else', async () => {
    const { cluster, runtime } = setup();
    cluster.put('pods', {
      metadata: { name: 'sim-d1-robot-0', namespace: NS, labels: { 'simdeploy.io/deployment-id': 'other' } },
      spec: { containers: [{ name: 'x', image: 'x' }] },
    });

    const error = await runtime.createWorkload(request).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'NameTaken', transient: false });
    expect((error as Error).message).toMatch(/pod sim-d1-robot-0 .*deployment other/);
  });

  it('is done when the object is ours and not being deleted', async () => {
    const { cluster, runtime } = setup();
    await runtime.createWorkload(request);
    await expect(runtime.createWorkload(request)).resolves.toBeUndefined();
    expect(cluster.list('pods')).toHaveLength(3);
  });
});

/** Someone's pod on the robots node, with its disruption budget if any. */
function foreignPod(cluster: FakeCluster, name = 'batch-job', namespace = 'team-a') {
  cluster.put('pods', {
    metadata: { name, namespace, labels: { app: 'batch' } },
    spec: { nodeName: ROBOT_NODE, terminationGracePeriodSeconds: 60, containers: [{ name: 'main', image: 'x' }] },
    status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
  });
}
const budget = (name: string, spec: Obj, statusFields: Obj) => ({
  metadata: { name, namespace: 'team-a', generation: 1 },
  spec: { selector: { matchLabels: { app: 'batch' } }, ...spec },
  status: { observedGeneration: 1, ...statusFields },
});

describe('the drain (finding 3)', () => {
  it('waits for evicted pods to go before deleting the node', async () => {
    const { cluster, runtime, clock } = setup();
    foreignPod(cluster);
    cluster.slowToTerminate('batch-job');

    const first = await runtime.deleteNodes(ID, [SIM_NODE, ROBOT_NODE]);

    expect(first).toMatchObject({ gone: false });
    expect(first.detail).toContain('team-a/batch-job');
    expect(cluster.get('nodes', ROBOT_NODE)).toBeDefined();
    expect(cluster.get('nodes', SIM_NODE)).toBeUndefined();

    clock.advance(61);
    await expect(runtime.deleteNodes(ID, [SIM_NODE, ROBOT_NODE])).resolves.toMatchObject({ gone: true });
    expect(cluster.calls().filter((c) => c.includes('/eviction'))).toHaveLength(1);
  });

  it('deletes the node once the drain deadline has passed, saying which pods were still there', async () => {
    const { cluster, runtime, clock } = setup({ drainTimeoutSeconds: 120 });
    foreignPod(cluster);
    cluster.put('pods', {
      metadata: { name: 'batch-job', namespace: 'team-a', labels: { app: 'batch' } },
      spec: { nodeName: ROBOT_NODE, terminationGracePeriodSeconds: 3600, containers: [{ name: 'main', image: 'x' }] },
      status: { phase: 'Running', conditions: [{ type: 'Ready', status: 'True' }] },
    });
    cluster.slowToTerminate('batch-job');
    await runtime.deleteNodes(ID, [ROBOT_NODE]);
    clock.advance(121);

    const result = await runtime.deleteNodes(ID, [ROBOT_NODE]);

    expect(result).toMatchObject({ gone: true });
    expect(result.detail).toContain('team-a/batch-job');
    expect(cluster.get('nodes', ROBOT_NODE)).toBeUndefined();
  });

  it('does not wait on a NotReady node, where nothing can terminate', async () => {
    const { cluster, runtime } = setup();
    foreignPod(cluster);
    cluster.setNodeReady(ROBOT_NODE, false);
    await expect(runtime.deleteNodes(ID, [ROBOT_NODE])).resolves.toMatchObject({ gone: true });
  });
});

describe('eviction refusals (finding 4)', () => {
  it('retries a budget that allows no disruption right now, naming it, and fails permanently past the drain deadline', async () => {
    const { cluster, runtime, clock } = setup({ drainTimeoutSeconds: 120 });
    foreignPod(cluster);
    cluster.put('poddisruptionbudgets', budget('batch-pdb', { minAvailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 }));

    const first = await runtime.deleteNodes(ID, [ROBOT_NODE]);
    expect(first).toMatchObject({ gone: false });
    expect(first.detail).toContain('batch-pdb');
    expect(cluster.get('nodes', ROBOT_NODE)).toBeDefined();

    clock.advance(121);
    const error = await runtime.deleteNodes(ID, [ROBOT_NODE]).catch((e: unknown) => e);
    expect(error).toMatchObject({ code: 'DisruptionBudgetBlocksDrain', transient: false });
    expect((error as Error).message).toContain('team-a/batch-pdb');
    expect(cluster.get('nodes', ROBOT_NODE)).toBeDefined();
  });

  it('backs off between refused evictions (5 s, doubling), keeping the schedule on the node', async () => {
    const { cluster, runtime, clock } = setup();
    foreignPod(cluster);
    cluster.put('poddisruptionbudgets', budget('batch-pdb', { minAvailable: 1 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 2 }));
    const evictions = () => cluster.calls().filter((c) => c.includes('/eviction')).length;

    await runtime.deleteNodes(ID, [ROBOT_NODE]);
    expect(evictions()).toBe(1);
    clock.advance(4);
    const waiting = await runtime.deleteNodes(ID, [ROBOT_NODE]);
    expect(evictions()).toBe(1);
    expect(waiting.detail).toContain('batch-job');
    clock.advance(1);
    await runtime.deleteNodes(ID, [ROBOT_NODE]);
    expect(evictions()).toBe(2);
    clock.advance(9);
    await runtime.deleteNodes(ID, [ROBOT_NODE]);
    expect(evictions()).toBe(2);
    clock.advance(1);
    await runtime.deleteNodes(ID, [ROBOT_NODE]);
    expect(evictions()).toBe(3);
    expect(cluster.get('nodes', ROBOT_NODE)?.metadata.annotations).toMatchObject({ 'simdeploy.io/drain-eviction-refusals': '3' });
  });

  it('fails permanently at once on a budget that never allows a disruption (maxUnavailable: 0)', async () => {
    const { cluster, runtime } = setup();
    foreignPod(cluster);
    cluster.put('poddisruptionbudgets', budget('frozen', { maxUnavailable: 0 }, { disruptionsAllowed: 0, currentHealthy: 1, desiredHealthy: 1, expectedPods: 1 }));

    const error = await runtime.deleteNodes(ID, [ROBOT_NODE]).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'DisruptionBudgetBlocksDrain', transient: false });
    expect((error as Error).message).toContain('team-a/frozen');
    expect((error as Error).message).toContain('maxUnavailable');
  });

  it('fails permanently on a pod under several budgets (HTTP 500), naming them', async () => {
    const { cluster, runtime } = setup();
    foreignPod(cluster);
    cluster.put('poddisruptionbudgets', budget('team-wide', { maxUnavailable: 1 }, { disruptionsAllowed: 1 }));
    cluster.put('poddisruptionbudgets', budget('batch-only', { maxUnavailable: 1 }, { disruptionsAllowed: 1 }));

    const error = await runtime.deleteNodes(ID, [ROBOT_NODE]).catch((e: unknown) => e);

    expect(error).toMatchObject({ code: 'MultipleDisruptionBudgets', transient: false });
    expect((error as Error).message).toContain('batch-only');
    expect((error as Error).message).toContain('team-wide');
  });

  it('retries plain API throttling (429 without a budget) after its back-off, honouring Retry-After', async () => {
    const { cluster, runtime, clock } = setup();
    foreignPod(cluster);
    cluster.failNext('POST', /\/eviction/, 429, status(429, 'TooManyRequests', 'Too many requests, please try again later.', { retryAfterSeconds: 8 }));

    await expect(runtime.deleteNodes(ID, [ROBOT_NODE])).resolves.toMatchObject({ gone: false });
    clock.advance(7);
    await expect(runtime.deleteNodes(ID, [ROBOT_NODE])).resolves.toMatchObject({ gone: false });
    clock.advance(1);
    await expect(runtime.deleteNodes(ID, [ROBOT_NODE])).resolves.toMatchObject({ gone: true });
  });
});

describe('checkNodesJoined against the plan (finding 5)', () => {
  const joined = (names: string[]) => {
    const cluster = new FakeCluster();
    for (const name of names) {
      cluster.addNode(name, { labels: { 'simdeploy.io/deployment-id': ID, 'simdeploy.io/node-role': 'robots' } });
    }
    return cluster;
  };

  it('is pending when one planned node is known and joined and the other, unnamed, has not joined', async () => {
    const runtime = runtimeFor(joined([SIM_NODE]));
    await expect(runtime.checkNodesJoined(ID, [SIM_NODE, ''])).resolves.toMatchObject({ state: 'pending' });
  });

  it('is pending when no name is known and fewer labelled nodes than planned are Ready', async () => {
    const runtime = runtimeFor(joined([SIM_NODE]));
    await expect(runtime.checkNodesJoined(ID, ['', ''])).resolves.toMatchObject({ state: 'pending' });
  });

  it('is ready when as many labelled nodes as planned are Ready', async () => {
    const runtime = runtimeFor(joined([SIM_NODE, ROBOT_NODE]));
    await expect(runtime.checkNodesJoined(ID, ['', ''])).resolves.toEqual({ state: 'ready' });
  });
});

describe('readiness details (finding 6)', () => {
  it('shows the scheduler\'s message for an unschedulable pod', async () => {
    const { cluster, runtime } = setup();
    await runtime.createWorkload(request);
    cluster.run('sim-d1-gzserver');
    cluster.schedule('sim-d1-bridge-0', ROBOT_NODE);
    cluster.run('sim-d1-bridge-0');
    const message = "0/3 nodes are available: 1 Insufficient nvidia.com/gpu, 2 node(s) didn't match Pod's node affinity/selector.";
    cluster.unschedulable('sim-d1-robot-0', message);

    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toMatchObject({
      state: 'pending',
      reason: { code: 'Unschedulable', message: `sim-d1-robot-0: ${message}` },
    });
  });

  it('does not count a pod with a deletionTimestamp as ready', async () => {
    const { cluster, runtime } = await launched();
    runAll(cluster);
    cluster.slowToTerminate('sim-d1-robot-0');
    const robot = cluster.get('pods', 'sim-d1-robot-0') as Obj;
    robot.metadata.deletionTimestamp = new Date(cluster.clock.now() + 30_000).toISOString();

    // Being deleted is progress, shown in the detail; it is never ready.
    await expect(runtime.checkWorkload(ID, plan.pods)).resolves.toEqual({ state: 'pending', detail: expect.stringContaining('Terminating') });
  });

  it('restarts a list whose continue token expired (410)', async () => {
    const { cluster, runtime } = setup();
    for (let i = 0; i < 501; i++) {
      cluster.put('pods', {
        metadata: { name: `sim-a-robot-${i}`, namespace: NS, labels: { 'simdeploy.io/deployment-id': 'a', 'simdeploy.io/managed-by': 'simdeploy' } },
        spec: {},
      });
    }
    cluster.failNext('GET', /\/pods\?.*continue=/, 410, status(410, 'Expired', 'The provided continue parameter is too old to display a consistent list result.'));

    const workloads = await runtime.listManagedWorkloads();

    expect(workloads.find((w) => w.deploymentId === 'a')?.pods).toHaveLength(501);
  });
});
