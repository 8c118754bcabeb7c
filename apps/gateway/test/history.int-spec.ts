import { JetStreamEventStore, NO_STREAM, NewEvent } from '@simdeploy/event-store';
import { waitFor } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { TestGateway, startTestGateway, token } from './support/test-gateway';

/** 2026-03-01 at hh:mm:ss, UTC. */
const t = (hms: string) => `2026-03-01T${hms}.000Z`;
const spec = { world: 'w.sdf', simulatorImage: 'gz:harmonic', robots: [{ name: 'r0', image: 'robot:1' }], nodeInstanceType: 'g4dn.xlarge', labels: {} };
const FAULT = { code: 'InsufficientInstanceCapacity', message: 'no capacity in eu-west-1a', transient: false };
const node = (role: string, instanceType: string) => ({ role, index: 0, clientToken: `tok-${role}`, instanceType });
const requested = (id: string, owner: string, at: string): NewEvent => ({
  type: 'SimulationRequested',
  data: { deploymentId: id, owner, requestedAt: t(at), requestedBy: { subject: owner, roles: [] }, spec, provider: 'aws' },
});
const ev = (type: string, at: string, data: object = {}): NewEvent => ({ type, data: { at: t(at), ...data } });
const launched = (role: string, instanceId: string, at: string) => ev('InstanceLaunched', at, { role, index: 0, clientToken: `tok-${role}`, instanceId, nodeName: `ip-${role}` });

const get = async (base: string, path: string, auth: string) => {
  const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${auth}` } });
  return { status: response.status, json: (await response.json().catch(() => undefined)) as any };
};

describe('history, the state at a time, and machine usage', () => {
  let gateway: TestGateway;
  let store: JetStreamEventStore;
  let admin: string;
  let alice: string;
  let bob: string;
  const rolledBack = randomUUID();
  const stopped = randomUUID();
  const running = randomUUID();

  beforeAll(async () => {
    gateway = await startTestGateway('HIST');
    store = await JetStreamEventStore.create(gateway.nc, { streamName: gateway.config.EVENTS_STREAM, subjectPrefix: gateway.config.EVENTS_SUBJECT_PREFIX });
    [admin, alice, bob] = await Promise.all([token('root', ['admin']), token('alice'), token('bob')]);
    // alice's launch fails waiting for its nodes and is rolled back.
    await store.append(
      rolledBack,
      [
        requested(rolledBack, 'alice', '10:00:00'),
        ev('NodesLaunchStarted', '10:00:05', { nodes: [node('simulator', 'g4dn.xlarge'), node('robots', 'c5.large')] }),
        launched('simulator', 'i-a', '10:01:00'),
        launched('robots', 'i-b', '10:01:30'),
        ev('LaunchFailed', '10:05:00', { stage: 'LaunchingNodes', step: 'waitNodesReady', error: FAULT, attempt: 3 }),
        ev('NodesDeletionStarted', '10:05:10'),
        ev('InstancesTerminationStarted', '10:05:20'),
        ev('SimulationTerminated', '10:06:00'),
      ],
      NO_STREAM,
    );
    // bob's runs from 10:10 and he stops it at 10:30; its machine ran 10:03 to 10:32.
    await store.append(
      stopped,
      [
        requested(stopped, 'bob', '10:02:00'),
        ev('NodesLaunchStarted', '10:02:10', { nodes: [node('simulator', 'g4dn.xlarge')] }),
        launched('simulator', 'i-c', '10:03:00'),
        ev('PodsLaunchStarted', '10:04:00', { pods: [], services: [], networkPolicies: [] }),
        ev('SimulationRunning', '10:10:00'),
        ev('StopRequested', '10:30:00', { by: { subject: 'bob', roles: [] }, reason: 'user' }),
        ev('PodsDeletionStarted', '10:30:05'),
        ev('NodesDeletionStarted', '10:31:00'),
        ev('InstancesTerminationStarted', '10:31:30'),
        ev('SimulationTerminated', '10:32:00'),
      ],
      NO_STREAM,
    );
    // carol's machine has run since 10:50 and still does.
    await store.append(
      running,
      [requested(running, 'carol', '10:49:00'), ev('NodesLaunchStarted', '10:49:30', { nodes: [node('simulator', 'g4dn.xlarge')] }), launched('simulator', 'i-d', '10:50:00')],
      NO_STREAM,
    );
  }, 60_000);

  afterAll(async () => {
    await gateway?.close();
  });

  it('gives the status intervals of a failed launch and its rollback, to its owner and admins only', async () => {
    const expected = [
      { status: 'Pending', errorStatus: null, from: t('10:00:00'), to: t('10:00:05'), durationSeconds: 5 },
      { status: 'LaunchingNodes', errorStatus: null, from: t('10:00:05'), to: t('10:05:00'), durationSeconds: 295 },
      { status: 'LaunchingNodes', errorStatus: 'InitializationFailed', from: t('10:05:00'), to: t('10:05:10'), durationSeconds: 10 },
      { status: 'DeletingNodes', errorStatus: 'InitializationFailed', from: t('10:05:10'), to: t('10:05:20'), durationSeconds: 10 },
      { status: 'TerminatingInstances', errorStatus: 'InitializationFailed', from: t('10:05:20'), to: t('10:06:00'), durationSeconds: 40 },
      { status: 'Terminated', errorStatus: 'InitializationFailed', from: t('10:06:00'), to: null, durationSeconds: null },
    ];
    expect(await get(gateway.base, `/simulations/${rolledBack}/history`, alice)).toEqual({ status: 200, json: { id: rolledBack, intervals: expected } });
    expect((await get(gateway.base, `/simulations/${rolledBack}/history`, admin)).json.intervals).toEqual(expected);
    expect((await get(gateway.base, `/simulations/${rolledBack}/history`, bob)).status).toBe(404);
    expect((await get(gateway.base, `/simulations/${randomUUID()}/history`, admin)).status).toBe(404);

    const stop = (await get(gateway.base, `/simulations/${stopped}/history`, bob)).json.intervals;
    expect(stop.map((i: any) => [i.status, i.durationSeconds])).toEqual([
      ['Pending', 10],
      ['LaunchingNodes', 110],
      ['LaunchingPods', 360],
      ['Running', 1200],
      ['ToBeTerminated', 5],
      ['DeletingPods', 55],
      ['DeletingNodes', 30],
      ['TerminatingInstances', 30],
      ['Terminated', null],
    ]);
  });

  it('shows the simulation as it was at a time, 404 before it existed, 400 naming at for a bad time', async () => {
    const at = async (time: string, auth = alice) => get(gateway.base, `/simulations/${rolledBack}?at=${encodeURIComponent(time)}`, auth);
    expect((await at(t('10:04:59'))).json).toMatchObject({ id: rolledBack, status: 'LaunchingNodes', errorStatus: null });
    const failed = await at(t('10:05:00'));
    expect(failed).toMatchObject({ status: 200, json: { status: 'LaunchingNodes', errorStatus: 'InitializationFailed' } });
    expect((await at(t('10:05:15'))).json).toMatchObject({ status: 'DeletingNodes', errorStatus: 'InitializationFailed' });
    expect((await at('2026-03-01T10:00:00Z')).json).toMatchObject({ status: 'Pending', errorStatus: null });
    expect((await at(t('12:00:00'), admin)).json).toMatchObject({ status: 'Terminated', errorStatus: 'InitializationFailed' });
    // Without at: the current view, as before.
    expect((await get(gateway.base, `/simulations/${stopped}`, bob)).json).toMatchObject({ status: 'Terminated', errorStatus: null });
    expect((await get(gateway.base, `/simulations/${stopped}?at=${t('10:20:00')}`, bob)).json).toMatchObject({ status: 'Running', errorStatus: null });

    const before = await at(t('09:59:59'));
    expect(before.status).toBe(404);
    expect(before.json.message).toMatch(/did not exist yet at 2026-03-01T09:59:59.000Z/);
    const bad = await at('yesterday');
    expect(bad.status).toBe(400);
    expect(bad.json.message).toMatch(/^at must be an ISO-8601 time/);
    expect((await at(t('10:05:00'), bob)).status).toBe(404);
  });

  it('sums machine-seconds by owner and instance type over a period, clipped, for every owner to an admin', async () => {
    const usage = (query: string, auth = admin) => get(gateway.base, `/usage?${query}`, auth);
    const hour = `since=${t('10:00:00')}&until=${t('11:00:00')}`;
    // The projection catches up with the appended events.
    await waitFor(async () => ((await usage(hour)).json?.rows?.length === 4 ? true : null), { description: 'usage projected' });
    // i-a 10:01:00-10:06:00, i-b 10:01:30-10:06:00, i-c 10:03-10:32, i-d from 10:50 still running (to 11:00 here).
    expect((await usage(hour)).json).toEqual({
      since: t('10:00:00'),
      until: t('11:00:00'),
      now: expect.any(String),
      rows: [
        { owner: 'alice', instanceType: 'c5.large', machineSeconds: 270, machineHours: 0.075, instances: 1 },
        { owner: 'alice', instanceType: 'g4dn.xlarge', machineSeconds: 300, machineHours: 0.083, instances: 1 },
        { owner: 'bob', instanceType: 'g4dn.xlarge', machineSeconds: 1740, machineHours: 0.483, instances: 1 },
        { owner: 'carol', instanceType: 'g4dn.xlarge', machineSeconds: 600, machineHours: 0.167, instances: 1 },
      ],
      total: { machineSeconds: 2910, machineHours: 0.808, instances: 4 },
    });
    // Ending at 10:17:30 cuts bob's machine in half (870 of its 1740 s); carol's had not started.
    expect((await usage(`since=${t('10:00:00')}&until=${t('10:17:30')}`)).json.rows.map((r: any) => [r.owner, r.instanceType, r.machineSeconds])).toEqual([
      ['alice', 'c5.large', 270],
      ['alice', 'g4dn.xlarge', 300],
      ['bob', 'g4dn.xlarge', 870],
    ]);
    // Starting at 10:05:30 leaves 30 s of each of alice's machines and 1590 s of bob's.
    expect((await usage(`since=${t('10:05:30')}&until=${t('10:40:00')}&owner=alice`)).json.rows.map((r: any) => r.machineSeconds)).toEqual([30, 30]);
    expect((await usage(`${hour}&owner=bob`)).json.total).toEqual({ machineSeconds: 1740, machineHours: 0.483, instances: 1 });
  });

  it("shows others only their own machines, as lists show only what they may see", async () => {
    const hour = `since=${t('10:00:00')}&until=${t('11:00:00')}`;
    await waitFor(async () => ((await get(gateway.base, `/usage?${hour}`, bob)).json?.rows?.length === 1 ? true : null), { description: 'usage projected' });
    expect((await get(gateway.base, `/usage?${hour}`, bob)).json.rows).toEqual([{ owner: 'bob', instanceType: 'g4dn.xlarge', machineSeconds: 1740, machineHours: 0.483, instances: 1 }]);
    expect((await get(gateway.base, `/usage?${hour}&owner=alice`, bob)).json).toMatchObject({ rows: [], total: { machineSeconds: 0, instances: 0 } });
    expect((await get(gateway.base, `/usage?${hour}`, await token('mallory'))).json.rows).toEqual([]);
  });

  it('refuses bad periods naming the field, and defaults to the current month up to now', async () => {
    const bad = await get(gateway.base, '/usage?since=soon', alice);
    expect(bad).toMatchObject({ status: 400, json: { message: expect.stringMatching(/^since must be an ISO-8601 time/) } });
    expect((await get(gateway.base, '/usage?until=2026-13-45T00:00:00Z', alice)).json.message).toMatch(/^until must be/);
    const empty = await get(gateway.base, `/usage?since=${t('11:00:00')}&until=${t('10:00:00')}`, alice);
    expect(empty).toMatchObject({ status: 400, json: { message: expect.stringMatching(/since .* must be before until/) } });
    expect((await get(gateway.base, '/usage?foo=1', alice)).status).toBe(400);

    const before = Date.now();
    const defaults = (await get(gateway.base, '/usage', admin)).json;
    const now = new Date(Date.parse(defaults.until));
    expect(Date.parse(defaults.until)).toBeGreaterThanOrEqual(before - 1000);
    expect(defaults.since).toBe(new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), 1)).toISOString());
    // A period that ends on the 1st is the month before.
    expect((await get(gateway.base, '/usage?until=2026-03-01T00:00:00Z', admin)).json.since).toBe('2026-02-01T00:00:00.000Z');
    expect((await get(gateway.base, '/usage?until=2026-03-02T00:00:00Z', admin)).json).toMatchObject({ since: '2026-03-01T00:00:00.000Z', total: { machineSeconds: 2910 + 13 * 3600 } });
  });

  it('documents the endpoints in the OpenAPI', async () => {
    const doc: any = await (await fetch(`${gateway.base}/docs-json`)).json();
    expect(Object.keys(doc.paths)).toEqual(expect.arrayContaining(['/usage', '/simulations/{id}/history']));
    const params = (doc.paths['/usage'].get.parameters as any[]).map((p) => p.name);
    expect(params).toEqual(expect.arrayContaining(['since', 'until', 'owner', 'team']));
    expect((doc.paths['/simulations/{id}'].get.parameters as any[]).map((p) => p.name)).toContain('at');
  });
});
