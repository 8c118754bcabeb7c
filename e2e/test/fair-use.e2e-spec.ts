import { connect, type NatsConnection } from '@nats-io/transport-node';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { waitFor } from '@simdeploy/testing';
import { capacityLedger, ledgerStreamId } from '@simdeploy/workflows';
import { checkLegalSequence } from './support/legal-sequence';
import { scrape } from './support/metrics';
import { Api, RunningSystem, api, processesOf, startSystem } from './support/system';

/**
 * Limits that queue instead of refusing, through the real processes (tools/start.mjs, the
 * local runtime, three launcher replicas): each owner may run 2 simulations at once, and the
 * provider has machines for 3 launches of one instance type at a time.
 */
const LIGHT_SIMULATOR = JSON.stringify(['sh', '-c', 'touch "$SIMDEPLOY_READY_FILE"; exec sleep 100000']);
const simulation = (nodeInstanceType = 'c5.large') => ({ world: 'worlds/queue.sdf', image: 'gazebo/gz-sim:harmonic', robots: [], nodeInstanceType });
const SCARCE = 'c5.2xlarge';
const LAUNCHERS = ['launcher', 'launcher-2', 'launcher-3'];

interface View {
  id: string;
  status: string;
  errorStatus: string | null;
  nodes: unknown[];
  admission: { state: string; waitingFor: string | null; place: number | null } | null;
  failureReason: string | null;
}

describe('fair use through the real processes', () => {
  let system: RunningSystem;
  let nc: NatsConnection;
  let store: JetStreamEventStore;
  let alice: Api;
  let bob: Api;
  let admin: Api;
  const everyone: { id: string; as: Api }[] = [];

  const view = async (as: Api, id: string): Promise<View> => (await as('GET', `/simulations/${id}`)).json as View;
  const launch = async (as: Api, nodeInstanceType?: string): Promise<View> => {
    const r = await as('POST', '/simulations', simulation(nodeInstanceType));
    expect(r.status).toBe(202);
    everyone.push({ id: r.json.id, as });
    return r.json as View;
  };
  const reaches = (as: Api, id: string, status: string) =>
    waitFor(
      async () => {
        const v = await view(as, id);
        if (v.errorStatus !== null) throw new Error(`${id} failed: ${v.failureReason}`);
        return v.status === status ? v : null;
      },
      { timeoutMs: 60_000, intervalMs: 100, description: `${id} ${status}` },
    );
  const inLine = (as: Api, id: string, place: number) =>
    waitFor(async () => (await view(as, id)).admission?.place === place, { timeoutMs: 30_000, intervalMs: 50, description: `${id} in line at ${place}` });
  const launchingOrRunning = async (as: Api) => (await as('GET', '/simulations?status=LaunchingNodes,LaunchingPods,Running&limit=1')).json.total as number;

  beforeAll(async () => {
    system = await startSystem(
      {
        LOCAL_BOOT_DELAY_MS: '100',
        SIMULATOR_COMMAND: LIGHT_SIMULATOR,
        QUOTA_MAX_ACTIVE: '2',
        QUOTA_MAX_QUEUED: '10',
        CAPACITY_LIMITS: `local:${SCARCE}=3`,
      },
      { args: ['--replicas', 'launcher=3'] },
    );
    [alice, bob, admin] = await Promise.all(['alice', 'bob'].map(async (s) => api(system.url, await system.token(s))).concat([system.token('root', ['admin']).then((t) => api(system.url, t))]));
    nc = await connect({ servers: system.natsUrl });
    store = await JetStreamEventStore.create(nc, { streamName: system.streams.EVENTS_STREAM, subjectPrefix: system.streams.EVENTS_SUBJECT_PREFIX });
  }, 90_000);

  afterAll(async () => {
    await nc?.close();
    await system?.stop();
  }, 60_000);

  it('an owner at the limit launches five more: they wait in line and start one by one, in order, as earlier ones stop', async () => {
    const running = [await launch(alice), await launch(alice)];
    for (const r of running) await reaches(alice, r.id, 'Running');

    const queued: string[] = [];
    for (let i = 1; i <= 5; i++) {
      const v = await launch(alice);
      expect(v.status).toBe('Pending');
      queued.push(v.id);
      // The launcher puts it in line (its place is only known once it has asked).
      await inLine(alice, v.id, i);
    }
    for (const [i, id] of queued.entries()) {
      const v = await view(alice, id);
      expect(v).toMatchObject({ status: 'Pending', nodes: [], admission: { state: 'queued', waitingFor: "alice's simulations", place: i + 1 } });
    }

    // Each stop lets exactly the head of the line in; the rest move up one place.
    const order: string[] = [];
    let oldest = running.map((r) => r.id);
    for (let k = 0; k < queued.length; k++) {
      const [stopping, ...rest] = oldest;
      expect((await alice('POST', `/simulations/${stopping}/stop`)).status).toBe(202);
      const head = queued[k] as string;
      await reaches(alice, head, 'Running');
      order.push(head);
      for (const [i, id] of queued.slice(k + 1).entries()) expect((await view(alice, id)).admission).toMatchObject({ state: 'queued', place: i + 1 });
      // Never more than the limit provisioning or running; the stopped one counts until its machines are gone.
      expect(await launchingOrRunning(alice)).toBeLessThanOrEqual(2);
      oldest = [...rest, head];
    }
    expect(order).toEqual(queued);
  }, 180_000);

  it('a stop of a queued launch frees nothing, since it held nothing; another owner is never held up by that line', async () => {
    const [q1, q2] = [await launch(alice), await launch(alice)];
    await inLine(alice, q2.id, 2);

    expect((await alice('POST', `/simulations/${q1.id}/stop`)).status).toBe(202);
    await reaches(alice, q1.id, 'Terminated');
    // Its place went back in the same ledger decision that would have let another in.
    await waitFor(async () => (await store.readStream(q1.id)).events.some((e) => e.type === 'AdmissionReleased'), { timeoutMs: 30_000, description: 'the place released' });
    const { events } = await store.readStream(q1.id);
    expect(events.map((e) => e.type)).not.toContain('InstanceLaunched');
    expect(checkLegalSequence(events).problems).toEqual([]);
    // Its view no longer says it waits: it left the line without ever holding a place.
    await waitFor(async () => (await view(alice, q1.id)).admission?.state === 'withdrawn', { timeoutMs: 30_000, description: 'the stopped launch withdrawn' });
    expect((await view(alice, q1.id)).admission).toMatchObject({ state: 'withdrawn', waitingFor: null, place: null });
    expect(await view(alice, q2.id)).toMatchObject({ status: 'Pending', admission: { state: 'queued', place: 1 } });

    const bobs = await launch(bob);
    await reaches(bob, bobs.id, 'Running');
    expect((await view(alice, q2.id)).status).toBe('Pending');
  }, 120_000);

  it('a full line rejects with the reason; a higher limit from an admin lets the line in at once', async () => {
    expect((await admin('PUT', '/admin/quotas/owners/alice', { maxQueued: 1 })).status).toBe(200);
    const over = await launch(alice);
    const rejected = await reaches(alice, over.id, 'Rejected');
    const events = (await alice('GET', `/simulations/${over.id}/events`)).json as { type: string; data: { reason?: string } }[];
    expect(events.find((e) => e.type === 'SimulationRejected')?.data.reason).toBe("the line for alice's simulations is full: 1 launch is already waiting, the most allowed");
    expect(rejected.nodes).toEqual([]);

    const waiting = (await alice('GET', '/simulations?status=Pending')).json.items as View[];
    expect(waiting).toHaveLength(1);
    const set = await admin('PUT', '/admin/quotas/owners/alice', { maxActive: 3 });
    // A PUT replaces the override: maxQueued is back to its default.
    expect(set.json).toMatchObject({ limits: { maxActive: 3, maxQueued: 10 }, queued: 0 });
    await reaches(alice, (waiting[0] as View).id, 'Running');
  }, 120_000);

  it('a capacity limit holds with three launcher replicas racing: launches beyond it wait for machines, then start', async () => {
    const owners = await Promise.all(Array.from({ length: 6 }, async (_, i) => api(system.url, await system.token(`capacity-${i}`))));
    const launched = await Promise.all(owners.map((as) => launch(as, SCARCE)));
    const ids = launched.map((v) => v.id);
    const viewOf = (i: number) => view(owners[i] as Api, ids[i] as string);

    await waitFor(
      async () => {
        const views = await Promise.all(ids.map((_, i) => viewOf(i)));
        return views.filter((v) => v.status === 'Running').length === 3 && views.filter((v) => v.admission?.state === 'queued').length === 3;
      },
      { timeoutMs: 60_000, intervalMs: 200, description: '3 Running, 3 waiting for machines' },
    );
    const waitingFor = (await Promise.all(ids.map((_, i) => viewOf(i)))).filter((v) => v.admission?.state === 'queued').map((v) => v.admission?.waitingFor);
    expect(waitingFor).toEqual(Array(3).fill(`local's ${SCARCE} machines`));
    const capacity = (await admin('GET', '/admin/capacity')).json as { key: string; used: number; queued: number; limits: { maxActive: number } }[];
    expect(capacity).toEqual([expect.objectContaining({ key: `local:${SCARCE}`, used: 3, queued: 3, limits: expect.objectContaining({ maxActive: 3 }) })]);

    // Stop those running: the three waiting start.
    const first = (await Promise.all(ids.map((_, i) => viewOf(i)))).flatMap((v, i) => (v.status === 'Running' ? [i] : []));
    for (const i of first) expect((await (owners[i] as Api)('POST', `/simulations/${ids[i]}/stop`)).status).toBe(202);
    for (const i of ids.keys()) if (!first.includes(i)) await reaches(owners[i] as Api, ids[i] as string, 'Running');

    // The ledger's whole history: never more than 3 machines held at once, whichever replica decided.
    const { events } = await store.readStream(ledgerStreamId(capacityLedger(`local:${SCARCE}`)));
    let held = 0;
    let most = 0;
    const holding = new Map<string, number>();
    for (const e of events) {
      const data = e.data as { deploymentId: string; weight?: number };
      if (e.type === 'LaunchAdmitted') holding.set(data.deploymentId, data.weight ?? 1);
      if (e.type === 'LaunchReleased') holding.delete(data.deploymentId);
      held = [...holding.values()].reduce((a, b) => a + b, 0);
      most = Math.max(most, held);
    }
    expect(most).toBe(3);
    const acked = await Promise.all(LAUNCHERS.map(async (name) => (await scrape(system.metrics[name] as string)).value('simdeploy_commands_acked_total', { kind: 'launch' })));
    expect(acked.filter((n) => n > 0).length).toBeGreaterThanOrEqual(2);
  }, 180_000);

  it('everything stops and leaves no process behind', async () => {
    for (const { id, as } of everyone) {
      const v = await view(as, id);
      if (v.status !== 'Terminated' && v.status !== 'Rejected') expect((await as('POST', `/simulations/${id}/stop`)).status).toBe(202);
    }
    for (const { id, as } of everyone) {
      await waitFor(async () => ['Terminated', 'Rejected'].includes((await view(as, id)).status), { timeoutMs: 60_000, intervalMs: 200, description: `${id} over` });
    }
    await waitFor(() => processesOf(everyone.map((e) => e.id)).length === 0, { timeoutMs: 15_000, description: 'no pod process left' });
  }, 120_000);
});
