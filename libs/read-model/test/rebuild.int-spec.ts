import { SimDeployment, fold } from '@simdeploy/domain';
import { InMemoryEventStore, NO_STREAM, comparePositions } from '@simdeploy/event-store';
import { lifecycle, waitFor } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { Projector } from '../src/projector';
import { ReadModel } from '../src/read-model';
import { permilleOf, rebuildReadModel, runRebuildCommand } from '../src/rebuild';
import { openReadModel } from '../src/sql/open';

describe('rebuilding the read model', () => {
  let dir: string;
  let readModel: ReadModel;
  const store = new InMemoryEventStore();
  const ids: string[] = [];

  beforeAll(async () => {
    dir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-rebuild-'));
    readModel = await openReadModel(`sqlite:${join(dir, 'rm.sqlite')}`);
    await readModel.migrate();
    for (let i = 0; i < 200; i++) {
      const id = randomUUID();
      ids.push(id);
      await store.append(id, lifecycle({ id, owner: `u${i % 3}`, requestedAt: Date.parse('2026-06-01T00:00:00Z') + i * 1000, outcome: i % 4 === 0 ? 'running' : 'finished' }), NO_STREAM);
    }
  });

  afterAll(async () => {
    await readModel.close();
    await fs.rm(dir, { recursive: true, force: true });
  });

  it('drops whatever the projection held and folds every event again, while a live projector resumes after it', async () => {
    // A projection that went wrong: it holds a deployment the events never had.
    const bogus = randomUUID();
    const phantom = fold(lifecycle({ id: bogus, owner: 'x', requestedAt: Date.parse('2020-01-01T00:00:00Z'), outcome: 'running' }));
    await readModel.transaction((tx) => tx.write([{ before: null, after: phantom as SimDeployment, position: '1' }]));
    expect(await readModel.get(bogus)).not.toBeNull();
    const projector = new Projector(store, readModel, { retryMs: 50 });
    projector.start();
    try {
      const progress: number[] = [];
      const result = await rebuildReadModel(store, readModel, { batchSize: 300, onProgress: (p) => progress.push(permilleOf(p.position, p.head)) });
      expect(result.events).toBeGreaterThanOrEqual(ids.length);
      expect(progress[progress.length - 1]).toBe(1000);
      expect(progress).toEqual([...progress].sort((a, b) => a - b));
      expect(await readModel.get(bogus)).toBeNull();
      for (const id of ids) expect(await readModel.get(id)).toEqual(fold((await store.readStream(id)).events as never));

      const late = randomUUID();
      const { position } = await store.append(late, lifecycle({ id: late, owner: 'u9', requestedAt: Date.now() }), NO_STREAM);
      await waitFor(async () => comparePositions((await readModel.checkpoint()) ?? '0', position) >= 0, { description: 'the live projector past the rebuild' });
      expect(await readModel.count({})).toBe(ids.length + 1);
    } finally {
      await projector.stop();
    }
  });

  it('prints what it did, with events/s, as the rebuild command', async () => {
    const out = new PassThrough();
    let text = '';
    out.on('data', (chunk: Buffer) => (text += chunk.toString()));
    const result = await runRebuildCommand(store, readModel, out as unknown as NodeJS.WriteStream);
    expect(text).toMatch(new RegExp(`rebuilt the read model from ${result.events.toLocaleString('en')} events in [\\d.]+ s: [\\d,]+ events/s`));
    expect(await readModel.count({})).toBe(ids.length + 1);
  });

  it('ends when the last batch is full and the head lies past the last event (as JetStream names it)', async () => {
    class PaddedHead extends InMemoryEventStore {
      override async headPosition(): Promise<string | null> {
        const last = await super.headPosition();
        return last === null ? null : String(BigInt(last) + 999n);
      }
    }
    const padded = new PaddedHead();
    for (let i = 0; i < 10; i++) {
      const id = randomUUID();
      await padded.append(id, lifecycle({ id, owner: 'u', requestedAt: Date.parse('2026-06-01T00:00:00Z') + i }), NO_STREAM);
    }
    const total = (await padded.readAll({ from: 'start' })).length;
    const result = await Promise.race([
      rebuildReadModel(padded, readModel, { batchSize: total / 2 }),
      new Promise<'hung'>((resolve) => setTimeout(() => resolve('hung'), 5_000)),
    ]);
    expect(result).toMatchObject({ events: total });
    expect(await readModel.count({})).toBe(10);
  });
});
