import { waitFor } from '@simdeploy/testing';
import { From, RecordedEvent } from './event-store';
import { ResumingSubscription, SourceItem, SubscriptionSource, backoffDelay } from './resuming-subscription';

interface FakeSourceBehaviour {
  /** Throw after delivering this many items, for the first `failingOpens` opens. */
  failAfter?: number;
  failingOpens?: number;
  /** Ignore `from` and start from the beginning, as a careless server might. */
  replayFromStart?: boolean;
  /** Announce where "end" is before anything else, as the adapter does. */
  checkpointAtEnd?: boolean;
}

/** An in-memory log whose sources behave like a server subscription that can drop. */
class FakeLog {
  readonly events: RecordedEvent[] = [];
  readonly opens: From[] = [];
  openSources = 0;
  private readonly wakeUp: (() => void)[] = [];

  append(count: number): void {
    for (let i = 0; i < count; i++) {
      const n = this.events.length + 1;
      this.events.push({ streamId: `d${n % 3}`, type: 'Tick', data: { n }, revision: '0', position: String(n * 10), recordedAt: new Date(0).toISOString() });
    }
    this.wakeUp.splice(0).forEach((wake) => wake());
  }

  open(from: From, behaviour: FakeSourceBehaviour = {}): SubscriptionSource {
    this.opens.push(from);
    this.openSources++;
    const failing = this.opens.length <= (behaviour.failingOpens ?? 0);
    const { events, wakeUp } = this;
    const release = () => this.openSources--;
    let closed = false;
    return {
      async *[Symbol.asyncIterator](): AsyncGenerator<SourceItem> {
        let next =
          behaviour.replayFromStart || from === 'start'
            ? 0
            : from === 'end'
              ? events.length
              : events.findIndex((e) => BigInt(e.position) > BigInt(from.after));
        if (next < 0) next = events.length;
        if (from === 'end' && behaviour.checkpointAtEnd && next > 0) yield { checkpoint: events[next - 1].position };
        let delivered = 0;
        while (!closed) {
          if (failing && delivered === behaviour.failAfter) throw new Error('connection dropped');
          if (next < events.length) {
            delivered++;
            yield events[next++];
          } else {
            await new Promise<void>((resolve) => wakeUp.push(resolve));
          }
        }
      },
      async close() {
        if (!closed) release();
        closed = true;
        wakeUp.splice(0).forEach((wake) => wake());
      },
    };
  }
}

const numbers = (events: RecordedEvent[]) => events.map((e) => (e.data as { n: number }).n);
const range = (from: number, to: number) => Array.from({ length: to - from + 1 }, (_, i) => from + i);

/** Iterates in the background, so a test can act while the consumer waits. */
const consume = (subscription: ResumingSubscription) => {
  const received: RecordedEvent[] = [];
  const done = (async () => {
    for await (const event of subscription) received.push(event);
  })();
  return { received, done };
};

const fastBackoff = { initialMs: 1, maxMs: 4 };

describe('ResumingSubscription', () => {
  it('resumes after each drop from the last delivered event: nothing lost, nothing twice, in order', async () => {
    const log = new FakeLog();
    log.append(10);
    const drops: number[] = [];
    const subscription = new ResumingSubscription({
      from: 'start',
      open: (from) => log.open(from, { failAfter: 3, failingOpens: 3 }),
      backoff: fastBackoff,
      onDrop: (_error, attempt) => drops.push(attempt),
    });
    const { received, done } = consume(subscription);
    await waitFor(() => received.length >= 10, { description: '10 events' });
    await subscription.close();
    await done;
    expect(numbers(received)).toEqual(range(1, 10));
    expect(log.opens).toEqual(['start', { after: '30' }, { after: '60' }, { after: '90' }]);
    // Each drop came after progress, so the wait never grew past the first step.
    expect(drops).toEqual([1, 1, 1]);
  });

  it('waits longer after consecutive drops without progress', async () => {
    const log = new FakeLog();
    const drops: number[] = [];
    const subscription = new ResumingSubscription({
      from: 'start',
      open: (from) => log.open(from, { failAfter: 0, failingOpens: 4 }),
      backoff: fastBackoff,
      onDrop: (_error, attempt) => drops.push(attempt),
    });
    const { received, done } = consume(subscription);
    await waitFor(() => log.opens.length === 5, { description: 'a fifth open' });
    log.append(2);
    await waitFor(() => received.length === 2, { description: 'events after the drops' });
    await subscription.close();
    await done;
    expect(drops).toEqual([1, 2, 3, 4]);
    expect(numbers(received)).toEqual([1, 2]);
  });

  it('drops what a resumed source replays from before the resume point', async () => {
    const log = new FakeLog();
    log.append(10);
    const subscription = new ResumingSubscription({
      from: 'start',
      open: (from) => log.open(from, { failAfter: 4, failingOpens: 3, replayFromStart: true }),
      backoff: fastBackoff,
    });
    const { received, done } = consume(subscription);
    await waitFor(() => log.opens.length === 4 && received.length >= 10, { description: 'all events after 3 drops' });
    log.append(1);
    await waitFor(() => received.length >= 11, { description: 'a live event' });
    await subscription.close();
    await done;
    expect(numbers(received)).toEqual(range(1, 11));
  });

  it('starts after the given position', async () => {
    const log = new FakeLog();
    log.append(5);
    const subscription = new ResumingSubscription({
      from: { after: '30' },
      open: (from) => log.open(from, { replayFromStart: true }),
      backoff: fastBackoff,
    });
    const { received, done } = consume(subscription);
    await waitFor(() => received.length >= 2, { description: 'events 4 and 5' });
    await subscription.close();
    await done;
    expect(numbers(received)).toEqual([4, 5]);
  });

  it('resumes from a checkpoint when it dropped before delivering anything', async () => {
    const log = new FakeLog();
    log.append(3);
    const subscription = new ResumingSubscription({
      from: 'end',
      open: (from) => log.open(from, { failAfter: 0, failingOpens: 1, checkpointAtEnd: true }),
      backoff: fastBackoff,
    });
    const { received, done } = consume(subscription);
    await waitFor(() => log.opens.length === 2, { description: 'a re-open' });
    log.append(2);
    await waitFor(() => received.length >= 2, { description: 'the two new events' });
    await subscription.close();
    await done;
    expect(log.opens).toEqual(['end', { after: '30' }]);
    expect(numbers(received)).toEqual([4, 5]);
  });

  it('close() ends an iteration that waits for events, and releases the source', async () => {
    const log = new FakeLog();
    log.append(2);
    const subscription = new ResumingSubscription({ from: 'start', open: (from) => log.open(from), backoff: fastBackoff });
    const { received, done } = consume(subscription);
    await waitFor(() => received.length === 2, { description: 'the backlog' });
    await subscription.close();
    await done;
    expect(log.openSources).toBe(0);
    log.append(1);
    expect(received).toHaveLength(2);
  });

  it('close() ends it during the wait before a re-subscription', async () => {
    const log = new FakeLog();
    let drops = 0;
    const subscription = new ResumingSubscription({
      from: 'start',
      open: (from) => log.open(from, { failAfter: 0, failingOpens: 1 }),
      backoff: { initialMs: 3_600_000 },
      onDrop: () => drops++,
    });
    const { done } = consume(subscription);
    await waitFor(() => drops === 1, { description: 'the first drop' });
    await subscription.close();
    await done;
    expect(log.opens).toHaveLength(1);
  });

  it('a consumer that stops iterating closes the subscription and its source', async () => {
    const log = new FakeLog();
    log.append(5);
    let closedCalls = 0;
    const subscription = new ResumingSubscription({
      from: 'start',
      open: (from) => log.open(from),
      onClose: () => closedCalls++,
    });
    const received: RecordedEvent[] = [];
    for await (const event of subscription) {
      received.push(event);
      if (received.length === 2) break;
    }
    expect(numbers(received)).toEqual([1, 2]);
    expect(log.openSources).toBe(0);
    expect(closedCalls).toBe(1);
    await subscription.close();
    expect(closedCalls).toBe(1);
  });

  it('close() resolves and reports the close even when releasing the source fails', async () => {
    let closedCalls = 0;
    const subscription = new ResumingSubscription({
      from: 'start',
      open: () => ({
        // A read that never answers, as one waiting for a cluster that cannot be found.
        [Symbol.asyncIterator]: () => ({ next: () => new Promise<IteratorResult<SourceItem>>(() => undefined) }),
        // What unsubscribe() does when the cluster could not be discovered.
        close: () => Promise.reject(new Error('Failed to discover after 10 attempts.')),
      }),
      onClose: () => closedCalls++,
    });
    const { done } = consume(subscription);
    await Promise.resolve();
    await expect(subscription.close()).resolves.toBeUndefined();
    await done;
    expect(closedCalls).toBe(1);
  });

  it('can be iterated only once', async () => {
    const log = new FakeLog();
    const subscription = new ResumingSubscription({ from: 'start', open: (from) => log.open(from) });
    const first = consume(subscription);
    await expect(subscription[Symbol.asyncIterator]().next()).rejects.toThrow('only once');
    await subscription.close();
    await first.done;
  });
});

describe('backoffDelay', () => {
  it('doubles from the initial wait and stops at the cap', () => {
    const options = { initialMs: 100, maxMs: 1_000 };
    expect([1, 2, 3, 4, 5, 6, 100].map((attempt) => backoffDelay(attempt, options))).toEqual([100, 200, 400, 800, 1_000, 1_000, 1_000]);
  });
});
