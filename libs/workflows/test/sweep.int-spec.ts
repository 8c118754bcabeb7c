import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LocalNodeProvider, LocalPodRuntime, releaseAndKillAll } from '@simdeploy/cloud';
import { Status, planWorkload, type NodeRecord } from '@simdeploy/domain';
import type { JetStreamEventStore } from '@simdeploy/event-store';
import { DeploymentCommandHandler } from '../src/command-handler';
import { ProviderRegistry } from '../src/providers';
import { OrphanSweeper, createOrphanSweeper, type OrphanSweeperOptions } from '../src/sweep';
import { T0, TestClock, commander, deploymentId, openStore, spec, sweptEvents, sweptInSweepStream } from './sweep-helpers';

const DEADLINE_MS = 60_000;

describe('OrphanSweeper over the local providers and the JetStream store', () => {
  let store: JetStreamEventStore;
  let closeStore: () => Promise<void>;
  let stateDir: string;
  let nodes: LocalNodeProvider;
  let pods: LocalPodRuntime;
  let handler: DeploymentCommandHandler;
  let exec: ReturnType<typeof commander>;
  let clock: TestClock;

  beforeAll(async () => {
    ({ store, close: closeStore } = await openStore());
  });
  afterAll(() => closeStore());

  beforeEach(() => {
    stateDir = mkdtempSync(join(tmpdir(), 'simdeploy-sweep-'));
    nodes = new LocalNodeProvider({ stateDir });
    // A pod that only lives: enough for the sweep to find and stop it.
    pods = new LocalPodRuntime({ stateDir, graceMs: 1_000, simulatorCommand: [process.execPath, '-e', 'setInterval(() => {}, 1000)'] });
    handler = new DeploymentCommandHandler(store);
    exec = commander(handler);
    clock = new TestClock();
  });
  afterEach(async () => {
    expect(await releaseAndKillAll(stateDir, 1_000)).toBe(true);
    rmSync(stateDir, { recursive: true, force: true });
  });

  const sweeper = (options: OrphanSweeperOptions = {}): OrphanSweeper =>
    createOrphanSweeper(
      { registry: new ProviderRegistry({ local: { nodes, pods } }, 'local'), handler: new DeploymentCommandHandler(store), clock },
      { launchDeadlineMs: DEADLINE_MS, ...options },
    );

  /** Requested and launching its nodes since T0, as a launcher leaves it right before launchNode. */
  async function launchingNodes(robots = 1): Promise<{ id: string; planned: NodeRecord[] }> {
    const id = deploymentId();
    await exec(id, 'RequestLaunch', { deploymentId: id, owner: 'alice', spec: spec(robots), provider: 'local' });
    const started = await exec(id, 'StartLaunchingNodes', {});
    return { id, planned: [...(started.state?.nodes ?? [])] };
  }

  const launch = (id: string, node: NodeRecord) =>
    nodes.launchNode({ deploymentId: id, owner: 'alice', role: node.role, index: node.index, clientToken: node.clientToken, instanceType: node.instanceType, labels: {} });

  const instanceIds = async () => (await nodes.listManagedInstances()).map((i) => i.instanceId);

  it('removes an instance launched by a launcher that crashed before recording the instance id, once the launch deadline has passed', async () => {
    const { id, planned } = await launchingNodes(1);
    const [simulator, robots] = planned as [NodeRecord, NodeRecord];
    // The robots node was launched and recorded; the launcher then crashed right after launching the simulator's.
    const recorded = await launch(id, robots);
    await exec(id, 'RecordInstance', { role: robots.role, index: robots.index, ...recorded });
    const unrecorded = await launch(id, simulator);

    clock.ms = T0 + DEADLINE_MS - 1;
    const early = await sweeper().sweepOnce();
    expect(early.findings).toEqual([]);
    expect(early.checked.instances).toBe(2);
    expect((await instanceIds()).sort()).toEqual([recorded.instanceId, unrecorded.instanceId].sort());
    expect(await sweptEvents(store, id)).toEqual([]);

    clock.ms = T0 + DEADLINE_MS + 1;
    const report = await sweeper().sweepOnce();
    expect(report.findings).toEqual([
      {
        provider: 'local',
        kind: 'instance',
        resourceId: unrecorded.instanceId,
        deploymentId: id,
        reason: 'unrecorded-after-launch-deadline',
        action: 'removed',
        recordedIn: id,
      },
    ]);
    expect(await instanceIds()).toEqual([recorded.instanceId]);
    const [swept, ...more] = await sweptEvents(store, id);
    expect(more).toEqual([]);
    expect(swept?.data).toEqual({
      at: new Date(T0 + DEADLINE_MS + 1).toISOString(),
      provider: 'local',
      kind: 'instance',
      resourceId: unrecorded.instanceId,
      reason: 'unrecorded-after-launch-deadline',
      dryRun: false,
    });
    // The record is for the audit only: the deployment's state is untouched by it.
    expect((await new DeploymentCommandHandler(store).load(id)).state?.status).toBe(Status.LaunchingNodes);
  });

  it('counts the launch deadline from when each deployment began launching nodes', async () => {
    const { id, planned } = await launchingNodes(0);
    const launched = await launch(id, planned[0] as NodeRecord);
    // The launch began later than T0 (a retry after the request sat in Pending).
    clock.ms = T0 + 2 * DEADLINE_MS;
    const fresh = deploymentId();
    await exec(fresh, 'RequestLaunch', { deploymentId: fresh, owner: 'alice', spec: spec(0), provider: 'local' });
    await exec(fresh, 'StartLaunchingNodes', {}, clock.ms - 1000);
    const young = await launch(fresh, { role: 'simulator', index: 0, clientToken: `sd-${fresh}-simulator-0`, instanceType: 'm5.large' });

    const report = await sweeper().sweepOnce();
    expect(report.findings.map((f) => f.resourceId)).toEqual([launched.instanceId]);
    expect(await instanceIds()).toEqual([young.instanceId]);
  });

  it('deletes the workload a Terminated deployment left behind and keeps a running one', async () => {
    const finished = await launchingNodes(0);
    const running = await launchingNodes(0);
    for (const { id, planned } of [finished, running]) {
      const launched = await launch(id, planned[0] as NodeRecord);
      await exec(id, 'RecordInstance', { role: 'simulator', index: 0, ...launched });
      await exec(id, 'StartLaunchingPods', {});
      const state = (await handler.load(id)).state;
      await pods.createWorkload({ deploymentId: id, owner: 'alice', spec: spec(0), plan: planWorkload(id, spec(0)), nodes: state?.nodes ?? [] });
      await exec(id, 'RecordWorkloadCreated', {});
      await exec(id, 'MarkRunning', {});
    }
    for (const type of ['RequestStop', 'StartDeletingPods', 'StartDeletingNodes', 'StartTerminatingInstances', 'MarkTerminated'] as const) {
      await exec(finished.id, type, (type === 'RequestStop' ? { reason: 'user' } : {}) as never);
    }
    // Terminated, yet its instance and its pods are still there (say, a terminator bug or an admin's resolution).
    clock.ms = T0 + 1000;

    const report = await sweeper().sweepOnce();
    expect(report.findings.map(({ kind, deploymentId: d, reason, action }) => ({ kind, d, reason, action })).sort((a, b) => a.kind.localeCompare(b.kind))).toEqual([
      { kind: 'instance', d: finished.id, reason: 'deployment-terminated', action: 'removed' },
      { kind: 'workload', d: finished.id, reason: 'deployment-terminated', action: 'removed' },
    ]);
    expect((await pods.listManagedWorkloads()).map((w) => w.deploymentId)).toEqual([running.id]);
    expect((await nodes.listManagedInstances()).map((i) => i.deploymentId)).toEqual([running.id]);
    expect((await sweptEvents(store, finished.id)).map((e) => (e.data as { kind: string }).kind).sort()).toEqual(['instance', 'workload']);
    expect(await sweptEvents(store, running.id)).toEqual([]);
  });

  it('removes what belongs to a deployment with no events and records it in the sweep stream', async () => {
    const ghost = deploymentId();
    const launched = await nodes.launchNode({ deploymentId: ghost, owner: 'bob', role: 'simulator', index: 0, clientToken: `sd-${ghost}-simulator-0`, instanceType: 'm5.large', labels: {} });

    const report = await sweeper().sweepOnce();
    expect(report.findings).toEqual([
      expect.objectContaining({ resourceId: launched.instanceId, deploymentId: ghost, reason: 'deployment-unknown', action: 'removed', recordedIn: 'sweep' }),
    ]);
    expect(await instanceIds()).toEqual([]);
    expect((await sweptInSweepStream(store, launched.instanceId)).map((e) => e.data)).toEqual([
      expect.objectContaining({ deploymentId: ghost, reason: 'deployment-unknown', kind: 'instance', dryRun: false }),
    ]);
    // No stream was made up for the unknown deployment.
    expect((await store.readStream(ghost)).revision).toBeNull();
  });

  it('in dry run reports and records what it would remove, and removes nothing', async () => {
    const ghost = deploymentId();
    const launched = await nodes.launchNode({ deploymentId: ghost, owner: 'bob', role: 'simulator', index: 0, clientToken: `sd-${ghost}-simulator-0`, instanceType: 'm5.large', labels: {} });
    const { id, planned } = await launchingNodes(0);
    const unrecorded = await launch(id, planned[0] as NodeRecord);
    clock.ms = T0 + DEADLINE_MS + 1;

    const report = await sweeper({ dryRun: true }).sweepOnce();
    expect(report.dryRun).toBe(true);
    expect(report.findings.map((f) => [f.resourceId, f.reason, f.action, f.recordedIn]).sort()).toEqual(
      [
        [launched.instanceId, 'deployment-unknown', 'would-remove', 'sweep'],
        [unrecorded.instanceId, 'unrecorded-after-launch-deadline', 'would-remove', id],
      ].sort(),
    );
    expect((await instanceIds()).sort()).toEqual([launched.instanceId, unrecorded.instanceId].sort());
    expect((await sweptInSweepStream(store, launched.instanceId)).map((e) => (e.data as { dryRun: boolean }).dryRun)).toEqual([true]);
    expect((await sweptEvents(store, id)).map((e) => (e.data as { dryRun: boolean }).dryRun)).toEqual([true]);
  });
});
