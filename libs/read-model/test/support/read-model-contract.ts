import { ALL_STATUSES, ErrorStatus, SimDeployment, SimDeploymentEvent, Status, ValidationError, fold, instanceIntervals, isFinal, machineSeconds } from '@simdeploy/domain';
import type { RecordedEvent } from '@simdeploy/event-store';
import { randomUUID } from 'node:crypto';
import { ListQuery, NO_ERROR, listOrder } from '../../src/list-query';
import { CheckpointMovedError, applyBatch } from '../../src/projection';
import type { ReadModel } from '../../src/read-model';
import { Outcome, lifecycle } from '@simdeploy/testing';

export interface ReadModelFixture {
  readModel: ReadModel;
  teardown(): Promise<void>;
}

export interface ReadModelContractOptions {
  /** Why the suite cannot run here (no server answers, say); it is then reported as skipped. */
  skipReason?: string;
}

/** Hands out store positions in order, as a store would. */
export class FakeFeed {
  private next = 1;
  readonly streams = new Map<string, SimDeploymentEvent[]>();

  record(streamId: string, events: readonly { type: string; data: object }[]): RecordedEvent[] {
    const own = this.streams.get(streamId) ?? [];
    const recorded = events.map((e) => {
      own.push(e as SimDeploymentEvent);
      return { streamId, type: e.type, data: e.data, revision: String(own.length - 1), position: String(this.next++), recordedAt: new Date().toISOString() };
    });
    this.streams.set(streamId, own);
    return recorded;
  }

  /** Several lifecycles, their events interleaved in store order as concurrent deployments write them. */
  interleave(lifecycles: { id: string; events: SimDeploymentEvent[] }[]): RecordedEvent[] {
    const out: RecordedEvent[] = [];
    const queues = lifecycles.map((l) => ({ id: l.id, events: [...l.events] }));
    while (queues.some((q) => q.events.length > 0)) {
      for (const q of queues) {
        const e = q.events.shift();
        if (e) out.push(...this.record(q.id, [e]));
      }
    }
    return out;
  }

  folded(id: string): SimDeployment | null {
    return fold(this.streams.get(id) ?? []);
  }
}

const at = (minutes: number) => Date.parse('2026-03-01T00:00:00.000Z') + minutes * 60_000;

async function project(readModel: ReadModel, events: readonly RecordedEvent[], batchSize = 7): Promise<void> {
  for (let i = 0; i < events.length; i += batchSize) {
    await readModel.transaction((tx) => applyBatch(tx, events.slice(i, i + batchSize)));
  }
}

async function allPages(readModel: ReadModel, query: Omit<ListQuery, 'limit' | 'cursor'>, limit: number): Promise<SimDeployment[]> {
  const seen: SimDeployment[] = [];
  let cursor: string | undefined;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await readModel.list({ ...query, limit, ...(cursor ? { cursor } : {}) });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    seen.push(...page.items);
    if (!page.nextCursor) return seen;
    cursor = page.nextCursor;
  }
  throw new Error('more than 1000 pages');
}

/** The one suite every ReadModel adapter passes. */
export function describeReadModelContract(name: string, setup: () => Promise<ReadModelFixture>, options: ReadModelContractOptions = {}): void {
  if (options.skipReason) {
    describe.skip(`${name} read model contract (skipped: ${options.skipReason})`, () => {
      it('is skipped', () => undefined);
    });
    return;
  }

  describe(`${name} read model contract`, () => {
    let fixture: ReadModelFixture;
    let readModel: ReadModel;
    beforeEach(async () => {
      fixture = await setup();
      readModel = fixture.readModel;
      await readModel.migrate();
    }, 60_000);
    afterEach(async () => {
      await fixture?.teardown();
    }, 60_000);

    it('starts empty, and migrating again changes nothing', async () => {
      await readModel.migrate();
      expect(await readModel.checkpoint()).toBeNull();
      expect(await readModel.get(randomUUID())).toBeNull();
      expect(await readModel.list({ limit: 10 })).toEqual({ items: [], nextCursor: null, total: 0 });
      expect(await readModel.ping()).toBe(true);
    });

    it('holds each deployment as the fold of its stream, with the checkpoint at the last event', async () => {
      const feed = new FakeFeed();
      const outcomes: Outcome[] = ['finished', 'rolled-back', 'rejected', 'running', 'waiting', 'admin-review'];
      const ids = outcomes.map(() => randomUUID());
      const events = feed.interleave(outcomes.map((outcome, i) => ({ id: ids[i] as string, events: lifecycle({ id: ids[i] as string, owner: 'alice', requestedAt: at(i), outcome }) })));
      await project(readModel, events);
      for (const id of ids) expect(await readModel.get(id)).toEqual(feed.folded(id));
      expect(await readModel.checkpoint()).toBe(events[events.length - 1]?.position);
      expect((await readModel.get(ids[4] as string))?.waiting).toMatchObject({ code: 'ImagePullBackOff' });
    });

    it('changes nothing when batches are replayed, whole or overlapping', async () => {
      const feed = new FakeFeed();
      const id = randomUUID();
      const events = feed.record(id, lifecycle({ id, owner: 'alice', requestedAt: at(0) }));
      await project(readModel, events.slice(0, 6), 6);
      const again = await readModel.transaction((tx) => applyBatch(tx, events.slice(0, 6)));
      expect(again).toMatchObject({ applied: 0, changed: 0 });
      await project(readModel, events.slice(3), 100);
      expect(await readModel.get(id)).toEqual(feed.folded(id));
      expect(await readModel.count({ owner: 'alice' })).toBe(1);
      expect((await readModel.list({ limit: 10, owner: 'alice', statuses: [Status.Terminated] })).total).toBe(1);
    });

    it('refuses a batch over a checkpoint another writer moved, writing nothing', async () => {
      const feed = new FakeFeed();
      const [a, b] = [randomUUID(), randomUUID()];
      const first = feed.record(a, lifecycle({ id: a, owner: 'alice', requestedAt: at(0), outcome: 'rejected' }));
      await project(readModel, first);
      const second = feed.record(b, lifecycle({ id: b, owner: 'bob', requestedAt: at(1), outcome: 'rejected' }));
      await expect(readModel.transaction((tx) => applyBatch(tx, second, null))).rejects.toBeInstanceOf(CheckpointMovedError);
      expect(await readModel.get(b)).toBeNull();
      expect(await readModel.checkpoint()).toBe(first[first.length - 1]?.position);
    });

    it('commits a batch and its checkpoint together or not at all', async () => {
      const feed = new FakeFeed();
      const id = randomUUID();
      const events = feed.record(id, lifecycle({ id, owner: 'alice', requestedAt: at(0) }));
      await expect(
        readModel.transaction(async (tx) => {
          await applyBatch(tx, events);
          throw new Error('crash before commit');
        }),
      ).rejects.toThrow('crash before commit');
      expect(await readModel.get(id)).toBeNull();
      expect(await readModel.checkpoint()).toBeNull();
      expect(await readModel.count({})).toBe(0);
    });

    it('skips records of streams that were never requested, yet moves the checkpoint past them', async () => {
      const feed = new FakeFeed();
      const swept = feed.record('sweep', [
        { type: 'OrphanSwept', data: { at: new Date(at(0)).toISOString(), provider: 'aws', kind: 'instance', resourceId: 'i-0abc', reason: 'deployment-unknown', dryRun: false } },
        { type: 'SomethingElse', data: {} },
      ]);
      await project(readModel, swept);
      expect(await readModel.get('sweep')).toBeNull();
      expect(await readModel.checkpoint()).toBe(swept[1]?.position);
    });

    describe('machine usage', () => {
      const feed = new FakeFeed();
      const iso = (minutes: number) => new Date(at(minutes)).toISOString();
      const owners = ['alice', 'bob'];
      const outcomes: Outcome[] = ['finished', 'rolled-back', 'running', 'admin-review', 'rejected', 'waiting'];
      // Overlapping deployments of two owners, 2 minutes apart, each step 40 s; alice's in the robotics team.
      const deployments = Array.from({ length: 12 }, (_, i) => {
        const id = randomUUID();
        const owner = owners[i % 2] as string;
        return { id, events: lifecycle({ id, owner, team: owner === 'alice' ? 'robotics' : undefined, requestedAt: at(i * 2), stepMs: 40_000, outcome: outcomes[i % outcomes.length], robots: 1 + (i % 3) }) };
      });
      const events = feed.interleave(deployments);
      // One more: stopped, a late machine terminated on its own, and a machine the sweep found still there.
      const late = randomUUID();
      const lateEvents = feed.record(late, [
        ...lifecycle({ id: late, owner: 'bob', requestedAt: at(5), stepMs: 30_000, outcome: 'finished' }),
        { type: 'OrphanSwept', data: { at: iso(90), provider: 'aws', kind: 'instance', resourceId: `i-${late.slice(0, 8)}-simulator-0`, reason: 'deployment-terminated', dryRun: false } },
      ]);
      const intervals = () => [...feed.streams.values()].flatMap((stream) => instanceIntervals(stream));
      const now = iso(100);
      const periods: [number, number][] = [
        [0, 200],
        [3, 9],
        [10.5, 12.25],
        [30, 95],
        [120, 200],
      ];

      beforeEach(async () => {
        await project(readModel, [...events, ...lateEvents], 9);
      });

      it('sums the same machine-seconds as the domain over the same events, for periods that cut intervals', async () => {
        expect(intervals().some((i) => i.terminatedAt === null)).toBe(true);
        for (const [from, to] of periods) {
          const expected = machineSeconds(intervals(), iso(from), iso(to), now);
          expect(await readModel.usage({ since: iso(from), until: iso(to), now })).toEqual(expected);
        }
        const whole = await readModel.usage({ since: iso(0), until: iso(200), now });
        expect(whole.map((r) => r.owner)).toEqual(expect.arrayContaining(['alice', 'bob']));
        expect(whole.every((r) => r.machineSeconds > 0)).toBe(true);
        // The sweep ended the late deployment's simulator machine at minute 90, not at its termination.
        const swept = intervals().find((i) => i.instanceId === `i-${late.slice(0, 8)}-simulator-0`);
        expect(swept?.terminatedAt).toBe(iso(90));
      });

      it('filters by owner, team and what a member may see', async () => {
        const since = iso(0);
        const until = iso(200);
        const all = intervals();
        expect(await readModel.usage({ since, until, now, owner: 'bob' })).toEqual(machineSeconds(all.filter((i) => i.owner === 'bob'), since, until, now));
        expect(await readModel.usage({ since, until, now, team: 'robotics' })).toEqual(machineSeconds(all.filter((i) => i.team === 'robotics'), since, until, now));
        expect(await readModel.usage({ since, until, now, visibleTo: { owner: 'carol', team: 'robotics' } })).toEqual(
          machineSeconds(all.filter((i) => i.team === 'robotics'), since, until, now),
        );
        expect(await readModel.usage({ since, until, now, visibleTo: { owner: 'carol' } })).toEqual([]);
        expect(await readModel.usage({ since, until, now, owner: 'bob', visibleTo: { owner: 'alice', team: 'robotics' } })).toEqual([]);
      });

      it('counts replayed batches once, empties on reset and refills the same from the events', async () => {
        const query = { since: iso(0), until: iso(200), now };
        const before = await readModel.usage(query);
        await readModel.transaction((tx) => applyBatch(tx, events.slice(0, 40)));
        expect(await readModel.usage(query)).toEqual(before);
        await readModel.transaction((tx) => tx.reset());
        expect(await readModel.usage(query)).toEqual([]);
        await project(readModel, [...events, ...lateEvents], 1000);
        expect(await readModel.usage(query)).toEqual(before);
      });

      it('refuses an empty period or a time that does not parse, naming the field', async () => {
        await expect(readModel.usage({ since: iso(10), until: iso(10), now })).rejects.toThrow(/since .* must be before until/);
        await expect(readModel.usage({ since: 'yesterday', until: iso(10), now })).rejects.toThrow(/^since must be/);
      });
    });

    describe('lists', () => {
      const feed = new FakeFeed();
      const owners = ['alice', 'bob', 'carol'];
      const outcomes: Outcome[] = ['finished', 'running', 'rolled-back', 'waiting', 'rejected', 'admin-review', 'finished'];
      // 42 deployments; every third pair shares a request time, so ties are ordered by id.
      const deployments = Array.from({ length: 42 }, (_, i) => {
        const id = randomUUID();
        const owner = owners[i % owners.length] as string;
        const labels: Record<string, string> = { team: i % 2 === 0 ? 'nav' : 'arm', ...(i % 5 === 0 ? { env: 'ci' } : {}) };
        // Every fourth was launched by a member of the robotics team (teams configured).
        const team = i % 4 === 0 ? 'robotics' : undefined;
        return { id, owner, labels, events: lifecycle({ id, owner, team, requestedAt: at(Math.floor(i / 2) * 3), outcome: outcomes[i % outcomes.length], labels }) };
      });
      const events = feed.interleave(deployments);
      const states = () => deployments.map((d) => feed.folded(d.id) as SimDeployment);
      const expected = (keep: (s: SimDeployment) => boolean) => states().filter(keep).sort(listOrder).map((s) => s.id);

      beforeEach(async () => {
        await project(readModel, events, 25);
      });

      it('pages through everything newest first, ties by id, each deployment once, by cursor', async () => {
        const seen = await allPages(readModel, {}, 5);
        expect(seen.map((s) => s.id)).toEqual(expected(() => true));
        const first = await readModel.list({ limit: 5 });
        expect(first.total).toBe(42);
        expect(first.nextCursor).toEqual(expect.any(String));
      });

      it('still pages by offset, for clients that have not moved to cursors', async () => {
        const page = await readModel.list({ limit: 4, offset: 8 });
        expect(page.items.map((s) => s.id)).toEqual(expected(() => true).slice(8, 12));
      });

      it('filters by owner, status and error status, with totals from the tallies', async () => {
        const active = ALL_STATUSES.filter((s) => !isFinal(s));
        const bobActive = await allPages(readModel, { owner: 'bob', statuses: active }, 3);
        expect(bobActive.map((s) => s.id)).toEqual(expected((s) => s.owner === 'bob' && !isFinal(s.status)));

        const failedOrClean = { errorStatuses: [ErrorStatus.InitializationFailed, NO_ERROR] as const };
        const page = await readModel.list({ limit: 100, ...failedOrClean, statuses: [Status.Terminated] });
        const want = expected((s) => s.status === Status.Terminated && (s.errorStatus === null || s.errorStatus === ErrorStatus.InitializationFailed));
        expect(page.items.map((s) => s.id)).toEqual(want);
        expect(page.total).toBe(want.length);
        expect(await readModel.count({ owner: 'carol', errorStatuses: [ErrorStatus.AdminReview] })).toBe(
          expected((s) => s.owner === 'carol' && s.errorStatus === ErrorStatus.AdminReview).length,
        );
        expect(await readModel.list({ limit: 5, statuses: [] })).toMatchObject({ items: [], total: 0 });
      });

      it("shows a member their own simulations and their team's, and filters by team, with totals from the tallies", async () => {
        const robotics = (s: SimDeployment) => s.team === 'robotics';
        const aliceOrTeam = await allPages(readModel, { visibleTo: { owner: 'alice', team: 'robotics' } }, 4);
        const want = expected((s) => s.owner === 'alice' || robotics(s));
        expect(want.length).toBeGreaterThan(expected((s) => s.owner === 'alice').length);
        expect(aliceOrTeam.map((s) => s.id)).toEqual(want);
        expect((await readModel.list({ limit: 1, visibleTo: { owner: 'alice', team: 'robotics' } })).total).toBe(want.length);

        const bobAlone = await allPages(readModel, { visibleTo: { owner: 'bob' } }, 10);
        expect(bobAlone.map((s) => s.id)).toEqual(expected((s) => s.owner === 'bob'));

        const active = ALL_STATUSES.filter((s) => !isFinal(s));
        const teamActive = await readModel.list({ limit: 100, team: 'robotics', statuses: active });
        expect(teamActive.items.map((s) => s.id)).toEqual(expected((s) => robotics(s) && !isFinal(s.status)));
        expect(teamActive.total).toBe(teamActive.items.length);
        expect(await readModel.count({ team: 'robotics', visibleTo: { owner: 'carol', team: 'robotics' } })).toBe(expected(robotics).length);
        expect(await readModel.count({ team: 'nobody' })).toBe(0);
      });

      it('filters by labels and requested-time range, counting them only when asked', async () => {
        const nav = await allPages(readModel, { labels: { team: 'nav' } }, 4);
        expect(nav.map((s) => s.id)).toEqual(expected((s) => s.spec.labels['team'] === 'nav'));
        const navCi = await readModel.list({ limit: 100, labels: { team: 'nav', env: 'ci' }, owner: 'alice' });
        expect(navCi.items.map((s) => s.id)).toEqual(expected((s) => s.owner === 'alice' && s.spec.labels['team'] === 'nav' && s.spec.labels['env'] === 'ci'));
        expect(navCi.total).toBeUndefined();

        const from = new Date(at(9)).toISOString();
        const to = new Date(at(30)).toISOString();
        const window = await allPages(readModel, { requestedFrom: from, requestedTo: to, labels: { team: 'arm' } }, 2);
        const want = expected((s) => s.requestedAt >= from && s.requestedAt < to && s.spec.labels['team'] === 'arm');
        expect(want.length).toBeGreaterThan(2);
        expect(window.map((s) => s.id)).toEqual(want);
        const counted = await readModel.list({ limit: 1, requestedFrom: from, requestedTo: to, withTotal: true });
        expect(counted.total).toBe(expected((s) => s.requestedAt >= from && s.requestedAt < to).length);
      });

      it('lists every deployment not yet final for the reconciler', async () => {
        const active = await readModel.active(4);
        expect(active.map((s) => s.id)).toEqual(expected((s) => !isFinal(s.status)));
      });

      it('moves the tallies with each status change', async () => {
        const running = states().find((s) => s.status === Status.Running) as SimDeployment;
        const before = await readModel.count({ statuses: [Status.Running] });
        // Not recorded on the shared feed: the other cases still expect the folds they were given.
        const stop: RecordedEvent = {
          streamId: running.id,
          type: 'StopRequested',
          data: { at: new Date(at(500)).toISOString(), by: { subject: running.owner, roles: [] }, reason: 'user' },
          revision: '99',
          position: String(events.length + 1000),
          recordedAt: new Date().toISOString(),
        };
        await project(readModel, [stop]);
        expect(await readModel.count({ statuses: [Status.Running] })).toBe(before - 1);
        expect(await readModel.count({ statuses: [Status.ToBeTerminated], owner: running.owner })).toBe(1);
        expect(await readModel.count({})).toBe(42);
      });

      it('refuses a cursor it did not give out', async () => {
        await expect(readModel.list({ limit: 5, cursor: 'not-a-cursor' })).rejects.toBeInstanceOf(ValidationError);
      });

      it('empties on reset, inside the transaction that rebuilds', async () => {
        await readModel.transaction((tx) => tx.reset());
        expect(await readModel.count({})).toBe(0);
        expect(await readModel.checkpoint()).toBeNull();
        expect(await readModel.list({ limit: 5, labels: { team: 'nav' } })).toMatchObject({ items: [] });
        await project(readModel, events, 1000);
        expect(await readModel.count({})).toBe(42);
      });
    });
  });
}
