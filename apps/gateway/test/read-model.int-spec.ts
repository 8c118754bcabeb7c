import { JetStreamEventStore, NO_STREAM } from '@simdeploy/event-store';
import { lifecycle, waitFor, type Outcome } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { TestGateway, startTestGateway, token } from './support/test-gateway';

const OUTCOMES: Outcome[] = ['finished', 'finished', 'rolled-back', 'rejected', 'finished', 'waiting'];
const T0 = Date.parse('2026-04-01T00:00:00.000Z');

async function seed(store: JetStreamEventStore, count: number, from: number, owner = (i: number) => `user-${i % 10}`): Promise<string[]> {
  const ids: string[] = [];
  for (let i = 0; i < count; i += 100) {
    await Promise.all(
      Array.from({ length: Math.min(100, count - i) }, async (_, j) => {
        const n = from + i + j;
        const id = randomUUID();
        ids.push(id);
        const labels = { team: n % 2 === 0 ? 'nav' : 'arm', ...(n % 10 === 0 ? { env: 'ci' } : {}) };
        await store.append(id, lifecycle({ id, owner: owner(n), requestedAt: T0 + n * 1000, outcome: OUTCOMES[n % OUTCOMES.length], labels }), NO_STREAM);
      }),
    );
  }
  return ids;
}

const get = async (base: string, path: string, auth: string) => {
  const response = await fetch(`${base}${path}`, { headers: { authorization: `Bearer ${auth}` } });
  return { status: response.status, json: (await response.json().catch(() => undefined)) as any };
};

describe('gateway over the persisted read model', () => {
  let first: TestGateway;
  let store: JetStreamEventStore;
  let admin: string;
  let dir: string;
  const sameStreams = (g: TestGateway, readModelUrl: string) => ({
    EVENTS_STREAM: g.config.EVENTS_STREAM,
    EVENTS_SUBJECT_PREFIX: g.config.EVENTS_SUBJECT_PREFIX,
    COMMANDS_STREAM: g.config.COMMANDS_STREAM,
    COMMANDS_SUBJECT_PREFIX: g.config.COMMANDS_SUBJECT_PREFIX,
    READ_MODEL_URL: readModelUrl,
  });

  beforeAll(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-gw-rm-'));
    first = await startTestGateway('RM', { env: { READ_MODEL_URL: `sqlite:${join(dir, 'first.sqlite')}` } });
    store = await JetStreamEventStore.create(first.nc, { streamName: first.config.EVENTS_STREAM, subjectPrefix: first.config.EVENTS_SUBJECT_PREFIX });
    admin = await token('root', ['admin']);
  }, 60_000);

  afterAll(async () => {
    await first?.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('pages by cursor with label, time and status filters, shows why a launch waits, and counts only where cheap or asked', async () => {
    const alice = await token('alice');
    const ids = await seed(store, 60, 0, () => 'alice');
    await waitFor(async () => (await get(first.base, '/simulations?limit=1', alice)).json?.total === 60, { description: 'all 60 listed' });

    const seen: string[] = [];
    let cursor: string | null = null;
    do {
      const page: any = (await get(first.base, `/simulations?limit=7&labels=team=nav${cursor ? `&cursor=${cursor}` : ''}`, alice)).json;
      expect(page.total).toBeUndefined();
      expect(page.offset).toBe(0);
      seen.push(...page.items.map((s: any) => s.id));
      cursor = page.nextCursor;
    } while (cursor);
    expect(new Set(seen).size).toBe(30);
    expect(seen.length).toBe(30);

    const window = (await get(first.base, `/simulations?requestedFrom=${new Date(T0 + 10_000).toISOString()}&requestedTo=${new Date(T0 + 20_000).toISOString()}&includeTotal=true`, alice)).json;
    expect(window.total).toBe(10);
    expect(window.items.map((s: any) => s.requestedAt)).toEqual([...window.items.map((s: any) => s.requestedAt)].sort().reverse());

    const waiting = (await get(first.base, '/simulations?status=LaunchingPods', alice)).json;
    expect(waiting.total).toBe(10);
    expect(waiting.items[0].waiting).toMatchObject({ code: 'ImagePullBackOff', step: 'waitPodsReady' });
    const one = (await get(first.base, `/simulations/${ids[0]}`, alice)).json;
    expect(one).toMatchObject({ id: ids[0], owner: 'alice' });
    expect(one).toHaveProperty('waiting');

    expect((await get(first.base, '/simulations?offset=55&limit=10', alice)).json).toMatchObject({ offset: 55, total: 60 });
    expect((await get(first.base, '/simulations?cursor=bogus', alice)).status).toBe(400);
    expect((await get(first.base, '/simulations?labels=nopair', alice)).status).toBe(400);
    expect((await get(first.base, '/simulations?requestedFrom=yesterday', alice)).status).toBe(400);
    expect((await get(first.base, `/simulations/${ids[0]}`, await token('mallory'))).status).toBe(404);
  }, 60_000);

  it('documents the list parameters in the OpenAPI, offset as deprecated', async () => {
    const doc: any = await (await fetch(`${first.base}/docs-json`)).json();
    const params = Object.fromEntries((doc.paths['/simulations'].get.parameters as any[]).map((p) => [p.name, p]));
    expect(Object.keys(params)).toEqual(expect.arrayContaining(['cursor', 'labels', 'requestedFrom', 'requestedTo', 'includeTotal', 'offset']));
    expect(params['offset'].deprecated).toBe(true);
  });

  it('after a restart over thousands of deployments answers no request from a partial projection', async () => {
    await seed(store, 3000, 1000);
    const total = async () => (await get(first.base, '/simulations?limit=1', admin)).json?.total;
    const before = await waitFor(async () => ((await total()) >= 3060 ? total() : null), { timeoutMs: 60_000, description: 'the first gateway caught up' });
    await first.stopApp();
    // Written while no gateway runs: a restarted one must not answer before it has them.
    await seed(store, 1000, 5000);
    const expected = before + 1000;

    for (const readModelUrl of [`sqlite:${join(dir, 'first.sqlite')}`, `sqlite:${join(dir, 'fresh.sqlite')}`]) {
      const restarted = await startTestGateway('RM', { env: sameStreams(first, readModelUrl) });
      try {
        const answers: { status: number; total?: number; ready: boolean }[] = [];
        // Clients call as soon as the port is open; every 200 must hold everything.
        for (let round = 0; round < 20; round++) {
          const [list, health] = await Promise.all([get(restarted.base, '/simulations?limit=5', admin), get(restarted.base, '/health/ready', admin)]);
          answers.push({ status: list.status, total: list.json?.total, ready: health.status === 200 });
        }
        const served = answers.filter((a) => a.status === 200);
        expect(served.length).toBeGreaterThan(0);
        expect(served.every((a) => a.total === expected)).toBe(true);
        expect(answers.every((a) => a.status === 200 || a.status === 503)).toBe(true);
      } finally {
        await restarted.stopApp();
      }
    }
    // The first gateway's app is closed, but its streams are deleted by close() in afterAll.
  }, 180_000);
});
