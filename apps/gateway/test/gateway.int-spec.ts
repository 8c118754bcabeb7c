import { jetstreamManager } from '@nats-io/jetstream';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { waitFor } from '@simdeploy/testing';
import { TestGateway, startTestGateway, token } from './support/test-gateway';

const launchBody = {
  world: 'worlds/warehouse.sdf',
  image: 'gazebo/gz-sim:harmonic',
  robots: [{ name: 'x1', image: 'acme/robot:1' }],
  nodeInstanceType: 'g4dn.xlarge',
  labels: { team: 'nav' },
};

describe('gateway over HTTP', () => {
  let gateway: TestGateway;
  let base: string;
  let store: JetStreamEventStore;
  let alice: string;
  let bob: string;
  let admin: string;

  const call = async (method: string, path: string, opts: { auth?: string; body?: unknown; raw?: string; headers?: Record<string, string> } = {}) => {
    const headers: Record<string, string> = { ...(opts.headers ?? {}) };
    if (opts.auth) headers['authorization'] = `Bearer ${opts.auth}`;
    let body: string | undefined;
    if (opts.raw !== undefined) body = opts.raw;
    else if (opts.body !== undefined) body = JSON.stringify(opts.body);
    if (body !== undefined && !headers['content-type']) headers['content-type'] = 'application/json';
    const response = await fetch(`${base}${path}`, { method, headers, body });
    const text = await response.text();
    let json: any;
    try {
      json = JSON.parse(text);
    } catch {
      json = undefined;
    }
    return { status: response.status, json, text, contentType: response.headers.get('content-type') ?? '' };
  };
  const eventCount = async () => (await store.readAll({ from: 'start' })).length;

  beforeAll(async () => {
    gateway = await startTestGateway('GW');
    base = gateway.base;
    store = await JetStreamEventStore.create(gateway.nc, {
      streamName: gateway.config.EVENTS_STREAM,
      subjectPrefix: gateway.config.EVENTS_SUBJECT_PREFIX,
    });
    [alice, bob, admin] = await Promise.all([token('alice'), token('bob'), token('root', ['admin'])]);
  });

  afterAll(async () => {
    await gateway?.close();
  });

  describe('authentication', () => {
    it.each([
      ['no token', undefined],
      ['a malformed token', 'not-a-jwt'],
    ])('answers 401 JSON for %s', async (_label, auth) => {
      const r = await call('GET', '/simulations', { auth });
      expect(r.status).toBe(401);
      expect(r.json).toMatchObject({ statusCode: 401, message: expect.any(String) });
    });

    it('answers 401 for a token signed with another secret', async () => {
      const forged = await token('alice', ['admin'], 'another-secret-that-is-32-characters-long');
      expect((await call('GET', '/simulations', { auth: forged })).status).toBe(401);
    });

    it('keeps health and docs public', async () => {
      expect((await call('GET', '/health')).json).toEqual({ status: 'ok' });
      expect((await call('GET', '/health/ready')).json).toMatchObject({ status: 'ok', nats: true, eventStore: true });
      const docs = await call('GET', '/docs');
      expect(docs.status).toBe(200);
      expect(docs.contentType).toContain('text/html');
    });
  });

  describe('launch and stop', () => {
    it('answers 202 Pending at once and shows it right after (read your writes)', async () => {
      const launched = await call('POST', '/simulations', { auth: alice, body: launchBody });
      expect(launched.status).toBe(202);
      expect(launched.json).toMatchObject({ status: 'Pending', errorStatus: null, owner: 'alice' });
      const got = await call('GET', `/simulations/${launched.json.id}`, { auth: alice });
      expect(got.status).toBe(200);
      expect(got.json).toMatchObject({ id: launched.json.id, status: 'Pending', spec: { world: launchBody.world } });
    });

    it("hides another owner's simulation as 404, and lets an admin see it", async () => {
      const { json } = await call('POST', '/simulations', { auth: alice, body: launchBody });
      expect((await call('GET', `/simulations/${json.id}`, { auth: bob })).status).toBe(404);
      expect((await call('POST', `/simulations/${json.id}/stop`, { auth: bob })).status).toBe(404);
      expect((await call('GET', `/simulations/${json.id}/events`, { auth: bob })).status).toBe(404);
      expect((await call('GET', `/simulations/${json.id}`, { auth: admin })).status).toBe(200);
    });

    it('stops with 202 ToBeTerminated; a repeated stop is harmless; DELETE does the same', async () => {
      const { json } = await call('POST', '/simulations', { auth: alice, body: launchBody });
      const stopped = await call('POST', `/simulations/${json.id}/stop`, { auth: alice });
      expect(stopped.status).toBe(202);
      expect(stopped.json.status).toBe('ToBeTerminated');
      const again = await call('DELETE', `/simulations/${json.id}`, { auth: alice });
      expect(again.status).toBe(202);
      expect(again.json.status).toBe('ToBeTerminated');
      const events = await call('GET', `/simulations/${json.id}/events`, { auth: alice });
      expect(events.json.map((e: { type: string }) => e.type)).toEqual(['SimulationRequested', 'StopRequested']);
      expect(events.json[1]).toMatchObject({ data: { by: { subject: 'alice' }, reason: 'user' }, revision: expect.any(String) });
    });

    it('lists only the caller’s own simulations, with ! filters and pagination', async () => {
      const mine = await call('POST', '/simulations', { auth: bob, body: launchBody });
      const other = await call('POST', '/simulations', { auth: bob, body: launchBody });
      await call('POST', `/simulations/${other.json.id}/stop`, { auth: bob });

      const all = await call('GET', '/simulations', { auth: bob });
      expect(all.json.items.every((s: { owner: string }) => s.owner === 'bob')).toBe(true);
      const ids = all.json.items.map((s: { id: string }) => s.id);
      expect(ids).toEqual(expect.arrayContaining([mine.json.id, other.json.id]));

      const notStopped = await call('GET', '/simulations?status=!ToBeTerminated', { auth: bob });
      expect(notStopped.json.items.map((s: { id: string }) => s.id)).toContain(mine.json.id);
      expect(notStopped.json.items.map((s: { id: string }) => s.id)).not.toContain(other.json.id);

      const stoppedOnly = await call('GET', '/simulations?status=ToBeTerminated&errorStatus=none', { auth: bob });
      expect(stoppedOnly.json.items.map((s: { id: string }) => s.id)).toEqual([other.json.id]);

      const page = await call('GET', '/simulations?limit=1&offset=1', { auth: bob });
      expect(page.json).toMatchObject({ limit: 1, offset: 1, total: all.json.total });
      expect(page.json.items).toHaveLength(1);

      const everyone = await call('GET', '/simulations?limit=500', { auth: admin });
      expect(new Set(everyone.json.items.map((s: { owner: string }) => s.owner))).toEqual(new Set(['alice', 'bob']));
    });

    it('launches once per Idempotency-Key: retries, even concurrent ones, return the first simulation', async () => {
      const key = `retry-${Date.now()}`;
      const headers = { 'idempotency-key': key };
      const before = await eventCount();
      const answers = await Promise.all(Array.from({ length: 5 }, () => call('POST', '/simulations', { auth: alice, body: launchBody, headers })));
      expect(answers.map((a) => a.status)).toEqual(Array(5).fill(202));
      expect(new Set(answers.map((a) => a.json.id)).size).toBe(1);
      expect(await eventCount()).toBe(before + 1);
      const bobs = await call('POST', '/simulations', { auth: bob, body: launchBody, headers });
      expect(bobs.json.id).not.toBe(answers[0].json.id);
      expect((await call('POST', '/simulations', { auth: alice, body: launchBody, headers: { 'idempotency-key': 'bad key!' } })).status).toBe(400);
    });

    it('sends the launch and terminate commands', async () => {
      const { json } = await call('POST', '/simulations', { auth: alice, body: launchBody });
      await call('POST', `/simulations/${json.id}/stop`, { auth: alice });
      const jsm = await jetstreamManager(gateway.nc);
      const info = await waitFor(async () => {
        const i = await jsm.streams.info(gateway.config.COMMANDS_STREAM);
        return i.state.messages >= 2 ? i : null;
      });
      expect(info.state.messages).toBeGreaterThanOrEqual(2);
    });
  });

  describe('bad requests get 4xx JSON and append nothing', () => {
    const cases: [string, { raw?: string; body?: unknown; headers?: Record<string, string> }, number][] = [
      ['malformed JSON', { raw: '{"world": ' }, 400],
      ['a wrong type', { body: { ...launchBody, robots: 'x1' } }, 400],
      ['an unknown field', { body: { ...launchBody, gpu: true } }, 400],
      ['an unknown nested field', { body: { ...launchBody, robots: [{ name: 'x1', image: 'a', arm: 2 }] } }, 400],
      ['a missing field', { body: { ...launchBody, world: undefined } }, 400],
      ['bad labels', { body: { ...launchBody, labels: { team: 5 } } }, 400],
      ['duplicate robot names', { body: { ...launchBody, robots: [launchBody.robots[0], launchBody.robots[0]] } }, 400],
      ['a body over 64 KiB', { body: { ...launchBody, world: 'w'.repeat(70 * 1024) } }, 413],
      ['an unsupported content type', { raw: '<world/>', headers: { 'content-type': 'application/xml' } }, 415],
    ];

    it.each(cases)('%s', async (_label, request, status) => {
      const before = await eventCount();
      const r = await call('POST', '/simulations', { auth: alice, ...request });
      expect(r.status).toBe(status);
      expect(r.contentType).toContain('application/json');
      expect(r.json).toMatchObject({ statusCode: status, message: expect.anything() });
      expect(r.text).not.toMatch(/\n\s+at /);
      expect(await eventCount()).toBe(before);
    });

    it.each<[string, object, string]>([
      ['a NUL byte in the world path', { world: 'worlds/a\u0000.sdf' }, 'world'],
      ['a newline in the world path', { world: 'worlds/a\n.sdf' }, 'world'],
      ['an image that is not an OCI reference', { image: 'https://ghcr.io/acme/sim' }, 'image'],
      ['a robot image with upper case', { robots: [{ name: 'x1', image: 'Acme/Robot' }] }, 'image'],
      ['a control character in a label value', { labels: { team: 'nav\u001b[31m' } }, 'labels'],
      ['a CPU request that is not a quantity', { resources: { simulator: { cpu: 'lots' } } }, 'cpu'],
      ['more than 16 robots', { robots: Array.from({ length: 17 }, (_, i) => ({ name: `r${i}`, image: 'acme/robot:1' })) }, 'robots'],
    ])('refuses %s with a 400 naming the field, appending nothing', async (_label, override, field) => {
      const before = await eventCount();
      const r = await call('POST', '/simulations', { auth: alice, body: { ...launchBody, ...override } });
      expect(r.status).toBe(400);
      expect(JSON.stringify(r.json.message)).toContain(field);
      expect(await eventCount()).toBe(before);
    });

    it('accepts resource requests and keeps them in the spec', async () => {
      const resources = { simulator: { cpu: '4', memory: '16Gi', gpu: 1 }, robot: { cpu: '500m', memory: '1Gi' } };
      const r = await call('POST', '/simulations', { auth: alice, body: { ...launchBody, resources } });
      expect(r.status).toBe(202);
      expect(r.json.spec.resources).toEqual(resources);
    });

    it('names what was wrong', async () => {
      const r = await call('POST', '/simulations', { auth: alice, body: { ...launchBody, gpu: true, nodeInstanceType: 7 } });
      expect(r.json.message).toEqual(expect.arrayContaining([expect.stringContaining('gpu'), expect.stringContaining('nodeInstanceType')]));
    });

    it('rejects a malformed id with 400 and an unknown one with 404', async () => {
      expect((await call('GET', '/simulations/NOT_AN_ID', { auth: alice })).status).toBe(400);
      expect((await call('POST', '/simulations/NOT_AN_ID/stop', { auth: alice })).status).toBe(400);
      expect((await call('GET', '/simulations/00000000-0000-4000-8000-000000000000', { auth: alice })).status).toBe(404);
    });

    it('rejects an unknown status filter with 400', async () => {
      const r = await call('GET', '/simulations?status=Flying', { auth: alice });
      expect(r.status).toBe(400);
      expect(r.json.message).toContain('status must be one of');
    });
  });

  describe('admin', () => {
    it('is forbidden to users', async () => {
      expect((await call('GET', '/admin/reviews', { auth: alice })).status).toBe(403);
    });

    it('lists nothing in review on a healthy system', async () => {
      const r = await call('GET', '/admin/reviews', { auth: admin });
      expect(r.status).toBe(200);
      expect(r.json).toEqual([]);
    });

    it('refuses to resolve a simulation that is not in review (409)', async () => {
      const { json } = await call('POST', '/simulations', { auth: alice, body: launchBody });
      const r = await call('POST', `/admin/simulations/${json.id}/resolve`, { auth: admin, body: { comment: 'x' } });
      expect(r.status).toBe(409);
    });
  });
});
