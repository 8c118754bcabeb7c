import { JetStreamEventStore } from '@simdeploy/event-store';
import { ledgerStreamId, quotaLedger } from '@simdeploy/workflows';
import { waitFor } from '@simdeploy/testing';
import { SignJWT } from 'jose';
import { SECRET, TestGateway, startTestGateway } from './support/test-gateway';

/**
 * Fair use at the gateway, over HTTP and on a real JetStream store (no workers run here:
 * launches stay Pending, which is all batch, selector, team and quota requests need).
 */
const spec = {
  world: 'worlds/warehouse.sdf',
  image: 'gazebo/gz-sim:harmonic',
  robots: [{ name: 'x1', image: 'acme/robot:1' }],
  nodeInstanceType: 'g4dn.xlarge',
};

const sign = (sub: string, claims: Record<string, unknown> = {}): Promise<string> =>
  new SignJWT({ roles: [], ...claims }).setProtectedHeader({ alg: 'HS256' }).setSubject(sub).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));

type Call = (method: string, path: string, auth: string, body?: unknown, headers?: Record<string, string>) => Promise<{ status: number; json: any; headers: Headers }>;

const caller =
  (base: string): Call =>
  async (method, path, auth, body, headers = {}) => {
    const response = await fetch(`${base}${path}`, {
      method,
      headers: { authorization: `Bearer ${auth}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined, headers: response.headers };
  };

describe('fair use over HTTP', () => {
  let gateway: TestGateway;
  let call: Call;
  let store: JetStreamEventStore;
  let alice: string;
  let bob: string;
  let carol: string;
  let admin: string;

  beforeAll(async () => {
    gateway = await startTestGateway('FAIR', { env: { TEAM_CLAIM: 'org' } });
    call = caller(gateway.base);
    store = await JetStreamEventStore.create(gateway.nc, { streamName: gateway.config.EVENTS_STREAM, subjectPrefix: gateway.config.EVENTS_SUBJECT_PREFIX });
    [alice, bob, carol, admin] = await Promise.all([
      sign('alice', { org: 'robotics' }),
      sign('bob', { org: ['robotics'] }),
      sign('carol', { org: 'perception' }),
      sign('root', { roles: ['admin'] }),
    ]);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  describe('batch launch', () => {
    it('accepts 100 launches in one request and answers their ids at once; a retry with the same key returns the same ids and launches nothing more', async () => {
      const key = `batch-${Date.now()}`;
      const first = await call('POST', '/simulations/batch', carol, { simulation: spec, count: 100, labels: { experiment: 'e1' } }, { 'idempotency-key': key });
      expect(first.status).toBe(202);
      expect(first.json.ids).toHaveLength(100);
      expect(new Set(first.json.ids).size).toBe(100);
      expect(first.json.simulations.map((s: { id: string }) => s.id)).toEqual(first.json.ids);
      expect(first.json.simulations.every((s: any) => s.status === 'Pending' && s.spec.labels.experiment === 'e1')).toBe(true);
      const batchLabel = first.json.labels as Record<string, string>;
      expect(Object.keys(batchLabel)).toEqual(['simdeploy.io/batch']);

      const before = (await store.readAll({ from: 'start' })).length;
      const retry = await call('POST', '/simulations/batch', carol, { simulation: spec, count: 100, labels: { experiment: 'e1' } }, { 'idempotency-key': key });
      expect(retry.status).toBe(202);
      expect(retry.json.ids).toEqual(first.json.ids);
      expect(retry.json.batch).toBe(first.json.batch);
      expect((await store.readAll({ from: 'start' })).length).toBe(before);

      // The batch label finds exactly the batch again.
      const [k, v] = Object.entries(batchLabel)[0] as [string, string];
      const listed = await call('GET', `/simulations?labels=${encodeURIComponent(`${k}=${v}`)}&limit=500&includeTotal=true`, carol);
      expect(listed.json.total).toBe(100);
      expect(new Set(listed.json.items.map((s: { id: string }) => s.id))).toEqual(new Set(first.json.ids));
    });

    it('takes a list of different launches, in order', async () => {
      const r = await call('POST', '/simulations/batch', carol, { simulations: [spec, { ...spec, world: 'worlds/b.sdf' }, { ...spec, world: 'worlds/c.sdf' }] });
      expect(r.status).toBe(202);
      expect(r.json.simulations.map((s: any) => s.spec.world)).toEqual(['worlds/warehouse.sdf', 'worlds/b.sdf', 'worlds/c.sdf']);
    });

    it.each([
      ['more than 100', { simulation: spec, count: 101 }, /count must not be greater than 100/],
      ['a list of 101', { simulations: Array.from({ length: 101 }, () => spec) }, /simulations must contain no more than 100/],
      ['both forms', { simulations: [spec], simulation: spec, count: 2 }, /either simulations .* or simulation and count/],
      ['neither form', { count: 3 }, /simulations .* or simulation and count .* is required/],
      ['a bad launch inside', { simulations: [spec, { ...spec, world: 'a\u0000b' }] }, /world must not contain control characters/],
    ])('refuses %s with a 400 naming the field, launching nothing', async (_label, body, message) => {
      const before = (await store.readAll({ from: 'start' })).length;
      const r = await call('POST', '/simulations/batch', carol, body);
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.json.message)).toMatch(message);
      expect((await store.readAll({ from: 'start' })).length).toBe(before);
    });
  });

  describe('stop by selector', () => {
    it("stops exactly the caller's matching simulations and answers their ids", async () => {
      const a = await call('POST', '/simulations/batch', carol, { simulation: spec, count: 4, labels: { sweep: 'a' } });
      const b = await call('POST', '/simulations/batch', carol, { simulation: spec, count: 3, labels: { sweep: 'b' } });
      // Someone else's, with the same label: not the caller's to stop.
      const other = await call('POST', '/simulations', admin, { ...spec, labels: { sweep: 'a' } });

      const stop = await call('POST', '/simulations/stop', carol, { labels: { sweep: 'a' } });
      expect(stop.status).toBe(202);
      expect(new Set(stop.json.stopped)).toEqual(new Set(a.json.ids));
      expect(stop.json).toMatchObject({ alreadyStopping: [], more: false });
      for (const id of a.json.ids) expect((await call('GET', `/simulations/${id}`, carol)).json.status).toBe('ToBeTerminated');
      for (const id of b.json.ids) expect((await call('GET', `/simulations/${id}`, carol)).json.status).toBe('Pending');
      expect((await call('GET', `/simulations/${other.json.id}`, admin)).json.status).toBe('Pending');

      // Again: nothing left to stop; those on their way out are named as such.
      const again = await call('POST', '/simulations/stop', carol, { labels: { sweep: 'a' } });
      expect(again.json.stopped).toEqual([]);
      expect(new Set(again.json.alreadyStopping)).toEqual(new Set(a.json.ids));
    });

    it('stops by status too, and refuses a request without a selector', async () => {
      const dave = await sign('dave');
      const launched = await call('POST', '/simulations/batch', dave, { simulation: spec, count: 2 });
      const stop = await call('POST', '/simulations/stop', dave, { status: 'Pending' });
      expect(new Set(stop.json.stopped)).toEqual(new Set(launched.json.ids));

      const none = await call('POST', '/simulations/stop', dave, {});
      expect(none.status).toBe(400);
      expect(none.json.message).toMatch(/a selector is required/);
      expect((await call('POST', '/simulations/stop', dave, { status: 'Sleeping' })).status).toBe(400);
      expect((await call('POST', '/simulations/stop', dave, { labels: { 'bad key!': 'x' } })).status).toBe(400);
    });
  });

  describe('teams (TEAM_CLAIM=org)', () => {
    it("lets a team member see and stop another member's simulation; others do not even see it", async () => {
      const launched = await call('POST', '/simulations', alice, spec);
      expect(launched.json).toMatchObject({ owner: 'alice', team: 'robotics' });
      const id = launched.json.id as string;

      expect((await call('GET', `/simulations/${id}`, bob)).status).toBe(200);
      // Read-your-writes holds for alice's own reads; bob's list shows her launch once the projection has it.
      await waitFor(async () => (await call('GET', `/simulations?team=robotics`, bob)).json.items.some((s: { id: string }) => s.id === id), {
        timeoutMs: 10_000,
        description: "alice's launch in bob's team list",
      });
      expect((await call('GET', `/simulations?team=robotics`, bob)).json.items.map((s: { id: string }) => s.id)).toContain(id);
      expect((await call('GET', `/simulations`, bob)).json.items.map((s: { id: string }) => s.id)).toContain(id);
      expect((await call('GET', `/simulations/${id}`, carol)).status).toBe(404);
      expect((await call('GET', `/simulations`, carol)).json.items.map((s: { id: string }) => s.id)).not.toContain(id);
      expect((await call('POST', `/simulations/${id}/stop`, carol)).status).toBe(404);

      const stopped = await call('POST', `/simulations/${id}/stop`, bob);
      expect(stopped.status).toBe(202);
      expect(stopped.json.stop).toMatchObject({ by: 'bob' });

      // The history records the person and the team.
      const events = await call('GET', `/simulations/${id}/events`, alice);
      expect(events.json[0]).toMatchObject({ type: 'SimulationRequested', data: { owner: 'alice', team: 'robotics', requestedBy: { subject: 'alice' } } });
      expect(events.json.find((e: { type: string }) => e.type === 'StopRequested').data.by.subject).toBe('bob');
    });
  });

  describe('quotas (admin)', () => {
    it("sets an owner's and a team's limits as recorded events, and shows them with the defaults", async () => {
      const set = await call('PUT', '/admin/quotas/owners/alice', admin, { maxActive: 3, maxQueued: 10 });
      expect(set.status).toBe(200);
      expect(set.json).toMatchObject({ scope: 'owner:alice', limits: { maxActive: 3, maxQueued: 10 }, defaults: { maxActive: null, maxQueued: null }, overrides: { maxActive: 3, maxQueued: 10 } });
      const team = await call('PUT', '/admin/quotas/teams/robotics', admin, { maxActive: null });
      expect(team.json).toMatchObject({ scope: 'team:robotics', overrides: { maxActive: null } });
      expect((await call('GET', '/admin/quotas/owners/alice', admin)).json.limits).toEqual({ maxActive: 3, maxQueued: 10 });

      // Audited: the ledger's history says who set what.
      const { events } = await store.readStream(ledgerStreamId(quotaLedger('owner:alice')));
      expect(events.map((e) => e.type)).toEqual(['LimitSet']);
      expect(events[0]?.data).toMatchObject({ by: { subject: 'root' }, maxActive: 3, maxQueued: 10 });
    });

    it('refuses a bad limit with a 400 naming the field, and anyone but an admin with a 403', async () => {
      const bad = await call('PUT', '/admin/quotas/owners/alice', admin, { maxActive: -1 });
      expect(bad.status).toBe(400);
      expect(JSON.stringify(bad.json.message)).toMatch(/maxActive/);
      expect((await call('PUT', '/admin/quotas/owners/alice', admin, { maxActive: 'ten' })).status).toBe(400);
      expect((await call('PUT', '/admin/quotas/owners/alice', admin, { maxActive: 2, extra: 1 })).status).toBe(400);
      expect((await call('PUT', '/admin/quotas/owners/alice', alice, { maxActive: 100 })).status).toBe(403);
      expect((await call('GET', '/admin/capacity', alice)).status).toBe(403);
    });
  });

  it('describes the batch, selector and quota requests in the OpenAPI document', async () => {
    const doc = (await (await fetch(`${gateway.base}/docs-json`)).json()) as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(doc.paths['/simulations/batch'] ?? {})).toEqual(['post']);
    expect(Object.keys(doc.paths['/simulations/stop'] ?? {})).toEqual(['post']);
    expect(Object.keys(doc.paths['/admin/quotas/owners/{owner}'] ?? {}).sort()).toEqual(['get', 'put']);
    expect(Object.keys(doc.paths['/admin/quotas/teams/{team}'] ?? {}).sort()).toEqual(['get', 'put']);
    expect(doc.paths['/admin/capacity']).toBeDefined();
  });
});

describe('request rate limits', () => {
  let gateway: TestGateway;
  let call: Call;

  beforeAll(async () => {
    gateway = await startTestGateway('RATE', { env: { RATE_LIMIT_MAX: '3', RATE_LIMIT_WINDOW_S: '3600', RATE_LIMIT_ADMIN_EXEMPT: 'true' } });
    call = caller(gateway.base);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('answers 429 with Retry-After past the limit, per caller, doing nothing; admins exempt when configured; health never counted', async () => {
    const [erin, frank, admin] = await Promise.all([sign('erin'), sign('frank'), sign('root', { roles: ['admin'] })]);
    for (let i = 0; i < 3; i++) expect((await call('GET', '/simulations', erin)).status).toBe(200);
    const over = await call('POST', '/simulations', erin, spec);
    expect(over.status).toBe(429);
    expect(Number(over.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(over.json).toMatchObject({ statusCode: 429, message: expect.stringMatching(/too many requests: at most 3 per 3600 s/) });
    expect(over.json.stack).toBeUndefined();
    // Nothing launched: the refused request never reached the store.
    const erinAdmin = await call('GET', '/simulations?owner=erin', admin);
    expect(erinAdmin.json.items).toEqual([]);

    expect((await call('GET', '/simulations', frank)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await call('GET', '/simulations', admin)).status).toBe(200);
    for (let i = 0; i < 5; i++) expect((await fetch(`${gateway.base}/health`)).status).toBe(200);
  });
});
