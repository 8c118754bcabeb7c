import { randomBytes } from 'node:crypto';
import {
  ANY_REVISION,
  ConcurrencyError,
  NO_STREAM,
  StoreUnavailableError,
  comparePositions,
  type EventStore,
  type EventSubscription,
  type ExpectedRevision,
  type NewEvent,
  type Position,
  type RecordedEvent,
} from '../event-store';

/**
 * The behaviour every EventStore adapter must show, as a Jest suite. Import it from a spec
 * file (it is deliberately not exported from the library's index) and give it a fixture.
 */
export interface ContractFixture {
  store: EventStore;
  /** A fresh, valid deployment id nobody else writes to. */
  newStreamId(): string;
  /** kill -9 and restart of the backing server; enables the durability case. */
  restartServer?: () => Promise<void>;
  teardown(): Promise<void>;
}

export interface ContractOptions {
  /**
   * Registers the whole suite as skipped, named with this reason, e.g. 'set ESDB_CONNECTION_STRING'.
   * Jest decides skips when tests are registered, before any async setup runs: a setup that
   * returns null is only known later, so it fails the suite (never a silent pass) unless the
   * same condition is also given here.
   */
  skipReason?: string | null;
  /**
   * Whether the fixture can kill -9 and restart its server (fixture.restartServer). Without it
   * the durability case is reported as skipped, never as passed.
   */
  canRestartServer?: boolean;
}

export const newDeploymentId = (): string => `t-${randomBytes(6).toString('hex')}`;

const event = (type: string, data: object, metadata?: NewEvent['metadata']): NewEvent => ({ type, data, metadata });

/** Polls `check` until it returns true or the deadline passes (no fixed sleeps). */
async function eventually(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`${what} did not happen within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/**
 * Takes events from a subscription until `done` says so; fails when the deadline passes first.
 * Only events of `streams` are kept: other tests may write to the same store meanwhile.
 */
async function collect(
  iterator: AsyncIterator<RecordedEvent>,
  streams: ReadonlySet<string>,
  done: (received: RecordedEvent[]) => boolean,
  timeoutMs = 20_000,
): Promise<RecordedEvent[]> {
  const received: RecordedEvent[] = [];
  const deadline = Date.now() + timeoutMs;
  while (!done(received)) {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), deadline - Date.now())));
    const next = await Promise.race([iterator.next(), timeout]);
    clearTimeout(timer);
    if (next === 'timeout') throw new Error(`subscription delivered ${received.length} events, not enough, before the deadline`);
    if (next.done) throw new Error(`subscription ended after ${received.length} events`);
    if (streams.has(next.value.streamId)) received.push(next.value);
  }
  return received;
}

const key = (e: RecordedEvent): string => `${e.streamId}/${e.position}`;
const strictlyIncreasing = (positions: Position[]): boolean =>
  positions.every((p, i) => i === 0 || comparePositions(positions[i - 1], p) < 0);

export function describeEventStoreContract(
  name: string,
  setup: () => Promise<ContractFixture | null>,
  options: ContractOptions = {},
): void {
  if (options.skipReason) {
    describe.skip(`${name} contract (skipped: ${options.skipReason})`, () => {
      it('is skipped', () => undefined);
    });
    return;
  }

  describe(`${name} event store contract`, () => {
    let fixture: ContractFixture | null = null;
    const f = (): ContractFixture => {
      if (!fixture) throw new Error(`${name} contract: setup returned null; pass { skipReason } to skip the suite instead`);
      return fixture;
    };

    beforeAll(async () => {
      fixture = await setup();
    }, 60_000);
    afterAll(async () => {
      await fixture?.teardown();
    }, 60_000);

    it('reads back appended events with types, data, metadata, revisions, positions and times; a missing stream is empty', async () => {
      const { store, newStreamId } = f();
      const id = newStreamId();
      expect(await store.readStream(id)).toEqual({ events: [], revision: null });

      const before = Date.now();
      const first = await store.append(id, [event('Created', { n: 1 }, { correlationId: 'c-1' })], NO_STREAM);
      const second = await store.append(id, [event('Changed', { n: 2, nested: { ok: true } })], first.nextRevision);
      const read = await store.readStream(id);

      expect(read.revision).toBe(second.nextRevision);
      expect(read.events.map((e) => [e.streamId, e.type, e.data])).toEqual([
        [id, 'Created', { n: 1 }],
        [id, 'Changed', { n: 2, nested: { ok: true } }],
      ]);
      expect(read.events[0].metadata).toMatchObject({ correlationId: 'c-1' });
      expect(read.events.map((e) => e.revision)).toEqual([first.nextRevision, second.nextRevision]);
      expect(read.events.map((e) => e.position)).toEqual([first.position, second.position]);
      expect(comparePositions(first.position, second.position)).toBeLessThan(0);
      for (const e of read.events) {
        expect(new Date(e.recordedAt).toISOString()).toBe(e.recordedAt);
        expect(Date.parse(e.recordedAt)).toBeGreaterThanOrEqual(before - 5_000);
      }
    });

    it('accepts NO_STREAM only for the first append', async () => {
      const { store, newStreamId } = f();
      const id = newStreamId();
      await store.append(id, [event('Created', {})], NO_STREAM);
      await expect(store.append(id, [event('Created', {})], NO_STREAM)).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await store.readStream(id)).events).toHaveLength(1);
    });

    it('refuses a stale expected revision without appending, while ANY_REVISION always appends', async () => {
      const { store, newStreamId } = f();
      const id = newStreamId();
      const first = await store.append(id, [event('A', {})], NO_STREAM);
      const second = await store.append(id, [event('B', {})], first.nextRevision);

      await expect(store.append(id, [event('Stale', {})], first.nextRevision)).rejects.toBeInstanceOf(ConcurrencyError);
      expect((await store.readStream(id)).events.map((e) => e.type)).toEqual(['A', 'B']);

      const third = await store.append(id, [event('C', {})], ANY_REVISION);
      const read = await store.readStream(id);
      expect(read.events.map((e) => e.type)).toEqual(['A', 'B', 'C']);
      expect(read.revision).toBe(third.nextRevision);
      expect(third.nextRevision).not.toBe(second.nextRevision);
    });

    it('reads only the events after a given revision', async () => {
      const { store, newStreamId } = f();
      const id = newStreamId();
      const first = await store.append(id, [event('A', {})], NO_STREAM);
      const second = await store.append(id, [event('B', {}), event('C', {})], first.nextRevision);
      await store.append(id, [event('D', {})], second.nextRevision);

      const later = await store.readStream(id, { after: first.nextRevision });
      expect(later.events.map((e) => e.type)).toEqual(['B', 'C', 'D']);
      const none = await store.readStream(id, { after: later.revision ?? '' });
      expect(none.events).toEqual([]);
      expect(none.revision).toBe(later.revision);
    });

    it('appends several events atomically and in order', async () => {
      const { store, newStreamId } = f();
      const id = newStreamId();
      const batch = Array.from({ length: 25 }, (_, i) => event('Step', { i }));
      const appended = await store.append(id, batch, NO_STREAM);
      // A conflicting multi-event append must leave nothing behind.
      await expect(store.append(id, batch, NO_STREAM)).rejects.toBeInstanceOf(ConcurrencyError);

      const read = await store.readStream(id);
      expect(read.events.map((e) => (e.data as { i: number }).i)).toEqual(batch.map((_, i) => i));
      expect(strictlyIncreasing(read.events.map((e) => e.position))).toBe(true);
      expect(read.events[read.events.length - 1].position).toBe(appended.position);
      expect(read.revision).toBe(appended.nextRevision);
    });

    it('lets exactly one of 50 concurrent writers win each revision, losing and duplicating nothing', async () => {
      const { store, newStreamId } = f();
      const id = newStreamId();
      const writers = 50;
      const perWriter = 4;

      const writer = async (w: number): Promise<number> => {
        let revision: string | null = null;
        let conflicts = 0;
        for (let n = 0; n < perWriter; ) {
          // Catch up from what this writer saw last, as a cached command handler does.
          const read = await store.readStream(id, revision === null ? undefined : { after: revision });
          revision = read.revision ?? revision;
          const expected: ExpectedRevision = revision ?? NO_STREAM;
          try {
            const appended = await store.append(id, [event('Written', { w, n })], expected);
            revision = appended.nextRevision;
            n++;
          } catch (error) {
            if (!(error instanceof ConcurrencyError)) throw error;
            conflicts++;
          }
        }
        return conflicts;
      };
      const conflicts = await Promise.all(Array.from({ length: writers }, (_, w) => writer(w)));

      const read = await store.readStream(id);
      expect(read.events).toHaveLength(writers * perWriter);
      const revisions = read.events.map((e) => BigInt(e.revision));
      expect(revisions.every((r, i) => i === 0 || revisions[i - 1] < r)).toBe(true);
      const pairs = read.events.map((e) => JSON.stringify(e.data));
      expect(new Set(pairs).size).toBe(writers * perWriter);
      for (let w = 0; w < writers; w++) {
        const own = read.events.map((e) => e.data as { w: number; n: number }).filter((d) => d.w === w);
        expect(own.map((d) => d.n)).toEqual([0, 1, 2, 3]);
      }
      // Otherwise the case proved nothing about races.
      expect(conflicts.reduce((a, b) => a + b, 0)).toBeGreaterThan(0);
    }, 120_000);

    it('reads all streams in store order, from the start or after a position', async () => {
      const { store, newStreamId } = f();
      const [a, b] = [newStreamId(), newStreamId()];
      const ra1 = await store.append(a, [event('A1', {})], NO_STREAM);
      const rb1 = await store.append(b, [event('B1', {}), event('B2', {})], NO_STREAM);
      await store.append(a, [event('A2', {})], ra1.nextRevision);
      await store.append(b, [event('B3', {})], rb1.nextRevision);
      const ours = (events: RecordedEvent[]) => events.filter((e) => e.streamId === a || e.streamId === b);

      const all = ours(await store.readAll({ from: 'start' }));
      expect(all.map((e) => e.type)).toEqual(['A1', 'B1', 'B2', 'A2', 'B3']);
      expect(strictlyIncreasing(all.map((e) => e.position))).toBe(true);

      const after = ours(await store.readAll({ from: { after: all[1].position } }));
      expect(after.map((e) => e.type)).toEqual(['B2', 'A2', 'B3']);

      const limited = await store.readAll({ from: { after: all[0].position }, limit: 2 });
      expect(limited).toHaveLength(2);
      expect(limited.every((e) => comparePositions(e.position, all[0].position) > 0)).toBe(true);
      expect(strictlyIncreasing(limited.map((e) => e.position))).toBe(true);
    });

    it('names a head position at or after every event held now and before every event appended later', async () => {
      const { store, newStreamId } = f();
      const id = newStreamId();
      const first = await store.append(id, [event('A', {}), event('B', {})], NO_STREAM);
      const head = await store.headPosition();
      expect(head).not.toBeNull();
      expect(comparePositions(head as Position, first.position)).toBeGreaterThanOrEqual(0);
      const later = await store.append(newStreamId(), [event('C', {})], NO_STREAM);
      expect(comparePositions(later.position, head as Position)).toBeGreaterThan(0);
      const next = await store.headPosition();
      expect(comparePositions(next as Position, later.position)).toBeGreaterThanOrEqual(0);
    });

    it('delivers every later event once and in order to a subscription from a position, until closed', async () => {
      const { store, newStreamId } = f();
      const streams = [newStreamId(), newStreamId(), newStreamId()];
      const revisions = new Map<string, string>();
      const write = async (stream: string, events: NewEvent[]) => {
        const appended = await store.append(stream, events, revisions.get(stream) ?? NO_STREAM);
        revisions.set(stream, appended.nextRevision);
        return appended;
      };
      await write(streams[0], [event('Before', { i: 0 })]);
      const mark = await write(streams[1], [event('Before', { i: 1 }), event('Before', { i: 2 })]);

      const subscription = store.subscribeToAll({ from: { after: mark.position } });
      const iterator = subscription[Symbol.asyncIterator]();
      const writing = Promise.all(
        streams.map(async (stream, s) => {
          for (let i = 0; i < 10; i++) {
            await write(stream, i % 3 === 0 ? [event('After', { s, i, part: 0 }), event('After', { s, i, part: 1 })] : [event('After', { s, i })]);
          }
        }),
      );
      await writing;
      const sentinel = await write(streams[0], [event('Sentinel', {})]);
      const received = await collect(iterator, new Set(streams), (r) => r.some((e) => e.type === 'Sentinel'));

      expect(received.every((e) => e.type !== 'Before')).toBe(true);
      expect(strictlyIncreasing(received.map((e) => e.position))).toBe(true);
      const expected = (await Promise.all(streams.map((s) => store.readStream(s))))
        .flatMap((r) => r.events)
        .filter((e) => comparePositions(e.position, mark.position) > 0)
        .sort((x, y) => comparePositions(x.position, y.position));
      expect(received.map(key)).toEqual(expected.map(key));
      expect(received[received.length - 1].position).toBe(sentinel.position);

      await subscription.close();
      await expect(iterator.next()).resolves.toMatchObject({ done: true });
    }, 60_000);

    (options.canRestartServer ? it : it.skip)('keeps every acknowledged event across a kill -9 of the server, and an open subscription resumes exactly once', async () => {
      const { store, newStreamId, restartServer } = f();
      if (!restartServer) throw new Error(`${name} contract: canRestartServer is set but the fixture has no restartServer`);
      const streams = Array.from({ length: 5 }, () => newStreamId());
      const marker = await store.append(newStreamId(), [event('Marker', {})], NO_STREAM);
      const subscription: EventSubscription = store.subscribeToAll({ from: { after: marker.position } });
      const iterator = subscription[Symbol.asyncIterator]();
      const watched = new Set(streams);

      const acknowledged = new Map<string, { revision: string; data: object[] }>();
      await Promise.all(
        streams.map(async (stream, s) => {
          let revision: string | null = null;
          const data: object[] = [];
          for (let i = 0; i < 40; i++) {
            const payload = { s, i, text: `event ${i} of stream ${s}` };
            revision = (await store.append(stream, [event('Durable', payload)], revision ?? NO_STREAM)).nextRevision;
            data.push(payload);
          }
          acknowledged.set(stream, { revision: revision ?? '', data });
        }),
      );
      const beforeCrash = await collect(iterator, watched, (r) => r.length === 200);

      await restartServer();
      await eventually(() => store.ping(), 30_000, 'the store answering after the restart');

      for (const [stream, { revision, data }] of acknowledged) {
        const read = await store.readStream(stream);
        expect(read.revision).toBe(revision);
        expect(read.events.map((e) => e.data)).toEqual(data);
      }

      // An append whose answer was lost in the restart may still have landed: look before retrying.
      const appendOnce = async (stream: string, payload: { s: number; i: number }) => {
        for (let attempt = 0; ; attempt++) {
          const read = await store.readStream(stream);
          if (read.events.some((e) => JSON.stringify(e.data) === JSON.stringify(payload))) return;
          try {
            await store.append(stream, [event('AfterRestart', payload)], read.revision ?? NO_STREAM);
            return;
          } catch (error) {
            if (attempt > 20 || !(error instanceof StoreUnavailableError || error instanceof ConcurrencyError)) throw error;
          }
        }
      };
      for (let i = 0; i < 5; i++) await Promise.all(streams.map((stream, s) => appendOnce(stream, { s, i })));
      const afterRestart = await collect(iterator, watched, (r) => r.filter((e) => e.type === 'AfterRestart').length >= 25);

      const delivered = [...beforeCrash, ...afterRestart];
      expect(new Set(delivered.map(key)).size).toBe(delivered.length);
      expect(strictlyIncreasing(delivered.map((e) => e.position))).toBe(true);
      const stored = (await Promise.all(streams.map((s) => store.readStream(s))))
        .flatMap((r) => r.events)
        .sort((x, y) => comparePositions(x.position, y.position));
      expect(delivered.map(key)).toEqual(stored.map(key));
      await subscription.close();
    }, 120_000);
  });
}
