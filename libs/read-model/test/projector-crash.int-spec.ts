import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { fold, isSimDeploymentEvent, type SimDeploymentEvent } from '@simdeploy/domain';
import { JetStreamEventStore, NO_STREAM, comparePositions } from '@simdeploy/event-store';
import { lifecycle, uniqueName, waitFor } from '@simdeploy/testing';
import { ChildProcess, spawn } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { reachedHead } from '../src/freshness';
import { ReadModel } from '../src/read-model';
import { openReadModel } from '../src/sql/open';
import { createTestDatabase, postgresUnavailableSync } from './support/postgres-test-database';

const root = resolve(__dirname, '../../..');
const OUTCOMES = ['finished', 'rolled-back', 'rejected', 'running', 'waiting', 'admin-review'] as const;

interface Child {
  process: ChildProcess;
  lines: string[];
}

function startChild(env: Record<string, string>): Child {
  const child = spawn(process.execPath, ['-r', join(root, 'tools/register-ts.cjs'), join(__dirname, 'fixtures/projector-child.ts')], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines: string[] = [];
  let buffer = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const parts = buffer.split('\n');
    buffer = parts.pop() ?? '';
    lines.push(...parts);
  });
  return { process: child, lines };
}

const killed = (child: ChildProcess) => new Promise<void>((done) => (child.exitCode !== null || child.signalCode !== null ? done() : child.once('exit', () => done())));

const pgSkip = postgresUnavailableSync();

describe.each([
  ['SQLite', null],
  ['PostgreSQL', pgSkip],
])('the projector killed with -9 in the middle of a batch (%s)', (adapter, skipReason) => {
  let nc: NatsConnection;
  let store: JetStreamEventStore;
  let streamName: string;
  let subjectPrefix: string;
  let url: string;
  let cleanup: () => Promise<void>;
  const ids: string[] = [];
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    if (skipReason) return;
    nc = await connect({ servers: process.env['NATS_URL'] });
    streamName = uniqueName('CRASH');
    subjectPrefix = streamName.toLowerCase();
    store = await JetStreamEventStore.create(nc, { streamName, subjectPrefix });
    if (adapter === 'SQLite') {
      const dir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-crash-'));
      url = `sqlite:${join(dir, 'read-model.sqlite')}`;
      cleanup = () => fs.rm(dir, { recursive: true, force: true });
    } else {
      const database = await createTestDatabase();
      url = database.url;
      cleanup = () => database.drop();
    }
    // 300 lifecycles, two events per append so a batch of 200 ends inside some of them.
    const start = Date.parse('2026-02-01T00:00:00Z');
    const lifecycles = Array.from({ length: 300 }, (_, i) => {
      const id = randomUUID();
      ids.push(id);
      return { id, events: lifecycle({ id, owner: `user-${i % 7}`, requestedAt: start + i * 1000, outcome: OUTCOMES[i % OUTCOMES.length] }) };
    });
    const revisions = new Map<string, string>();
    for (let round = 0; lifecycles.some((l) => l.events.length > 0); round++) {
      await Promise.all(
        lifecycles
          .filter((l) => l.events.length > 0)
          .map(async (l) => {
            const events = l.events.splice(0, 2);
            const appended = await store.append(l.id, events, revisions.get(l.id) ?? NO_STREAM);
            revisions.set(l.id, appended.nextRevision);
          }),
      );
    }
  }, 120_000);

  afterAll(async () => {
    for (const child of children) child.kill('SIGKILL');
    await Promise.all(children.map(killed));
    if (skipReason) return;
    await (await jetstreamManager(nc)).streams.delete(streamName).catch(() => undefined);
    await nc.close();
    await cleanup();
  });

  (skipReason ? it.skip : it)('leaves the last committed batch, and after a restart equals a fresh fold of every stream', async () => {
    const env = { NATS_URL: process.env['NATS_URL'] as string, EVENTS_STREAM: streamName, EVENTS_SUBJECT_PREFIX: subjectPrefix, READ_MODEL_URL: url };
    const first = startChild({ ...env, HANG_IN_BATCH: '4' });
    children.push(first.process);
    const hung = await waitFor(() => first.lines.find((l) => l.startsWith('in-batch')), { timeoutMs: 60_000, description: 'the child inside its 4th batch' });
    const committedBefore = first.lines.filter((l) => l.startsWith('committed')).pop()?.split(' ')[1] ?? null;
    first.process.kill('SIGKILL');
    await killed(first.process);

    const readModel: ReadModel = await openReadModel(url, { readOnly: true });
    try {
      // The batch in flight is gone whole: the checkpoint is where the last commit left it.
      expect(committedBefore).not.toBeNull();
      expect(await readModel.checkpoint()).toBe(committedBefore);
      expect(comparePositions(hung.split(' ')[1] as string, committedBefore as string)).toBeGreaterThan(0);

      const second = startChild(env);
      children.push(second.process);
      const head = await store.headPosition();
      await waitFor(async () => reachedHead(store, await readModel.checkpoint(), head), { timeoutMs: 60_000, description: 'the restarted projector at the head' });

      for (const id of ids) {
        const events = (await store.readStream(id)).events.map((e) => ({ type: e.type, data: e.data })).filter(isSimDeploymentEvent) as SimDeploymentEvent[];
        expect(await readModel.get(id)).toEqual(fold(events));
      }
      expect(await readModel.count({})).toBe(ids.length);
      for (const owner of ['user-0', 'user-3']) {
        const own = ids.filter((_, i) => `user-${i % 7}` === owner).length;
        expect(await readModel.count({ owner })).toBe(own);
      }
    } finally {
      await readModel.close();
    }
  }, 180_000);
});
