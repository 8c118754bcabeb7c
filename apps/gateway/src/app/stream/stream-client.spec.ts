import { DomainError, SimulationSpec, command } from '@simdeploy/domain';
import { InMemoryEventStore, RecordedEvent } from '@simdeploy/event-store';
import { waitFor } from '@simdeploy/testing';
import { DeploymentCommandHandler } from '@simdeploy/workflows';
import { EventEmitter } from 'node:events';
import { Change, ChangeListener, changePayload } from './change-feed';
import { DeploymentHistories } from './deployment-histories';
import { CloseReason, StreamClient } from './stream-client';

const SPEC: SimulationSpec = { world: 'w.sdf', simulatorImage: 'gz:1', robots: [], nodeInstanceType: 'g4dn.xlarge', labels: {} };

/** What the gateway writes to, recorded. */
class RecordedResponse extends EventEmitter {
  readonly chunks: string[] = [];
  writableLength = 0;
  destroyed = false;
  ended = false;
  write(chunk: string): boolean {
    this.chunks.push(chunk);
    return true;
  }
  end(): void {
    this.ended = true;
    this.emit('close');
  }
  destroy(): void {
    this.destroyed = true;
    this.emit('close');
  }
  /** The ids of the `change` messages, in the order written. */
  get sent(): string[] {
    return this.chunks.flatMap((c) => [...c.matchAll(/^id: (\d+)\nevent: change\n/gm)].map((m) => m[1]));
  }
}

/** The shared feed, driven by hand: the test decides when each live change arrives. */
class ManualFeed {
  listener: ChangeListener | null = null;
  constructor(public position: string | null) {}
  join(listener: ChangeListener) {
    this.listener = listener;
    return { position: this.position, leave: () => (this.listener = null) };
  }
}

describe('StreamClient', () => {
  let store: InMemoryEventStore;
  let histories: DeploymentHistories;
  let events: RecordedEvent[];
  let clients: StreamClient[];

  const launch = async (id: string, owner = 'alice') => {
    const handler = new DeploymentCommandHandler(store);
    const result = await handler.handle(
      id,
      command('RequestLaunch', { deploymentId: id, owner, spec: SPEC, provider: 'local' }, { now: new Date().toISOString(), by: { subject: owner, roles: [] } }),
    );
    if (result instanceof DomainError) throw result;
  };
  const changeOf = async (event: RecordedEvent): Promise<Change> => {
    const state = await histories.stateAfter(event);
    return { event, state, payload: state ? changePayload(event, state) : null };
  };
  const client = (
    response: RecordedResponse,
    feed: ManualFeed,
    lastEventId: string | null,
    options: Partial<{ bufferBytes: number; heartbeatMs: number; visible: (owner: string) => boolean }> = {},
    onClose: (reason: CloseReason) => void = () => undefined,
  ) => {
    const created = new StreamClient(
      response,
      feed,
      store,
      histories,
      (state) => (options.visible ?? (() => true))(state.owner),
      { heartbeatMs: options.heartbeatMs ?? 60_000, bufferBytes: options.bufferBytes ?? 1024 * 1024, retryMs: 2_000 },
      lastEventId,
      (_client, reason) => onClose(reason),
    );
    clients.push(created);
    return created;
  };

  beforeEach(async () => {
    store = new InMemoryEventStore();
    histories = new DeploymentHistories(store);
    clients = [];
    for (let i = 1; i <= 8; i++) await launch(`d${i}`, i % 2 === 0 ? 'bob' : 'alice');
    events = await store.readAll({ from: 'start' });
  });

  afterEach(() => {
    for (const c of clients) c.close('shutdown');
  });

  it('resuming while the feed is ahead: the catch-up, then the live changes it held, each once and in order', async () => {
    const response = new RecordedResponse();
    const feed = new ManualFeed(events[4].position);
    const live = await Promise.all(events.slice(5).map(changeOf));
    client(response, feed, events[0].position).start();
    // Before the catch-up has read anything, the feed hands over e6, e7, e8.
    for (const change of live) feed.listener?.change(change);

    await waitFor(() => response.sent.length >= 7);
    expect(response.sent).toEqual(events.slice(1).map((e) => e.position));
  });

  it('resuming while the feed is behind: live changes the catch-up sent already are not sent again', async () => {
    const response = new RecordedResponse();
    const feed = new ManualFeed(events[1].position);
    client(response, feed, events[0].position).start();
    await waitFor(() => response.sent.length === 7);

    for (const event of events.slice(2)) feed.listener?.change(await changeOf(event));
    await launch('d9');
    const [ninth] = await store.readAll({ from: { after: events[7].position } });
    feed.listener?.change(await changeOf(ninth));

    await waitFor(() => response.sent.length >= 8);
    expect(response.sent).toEqual([...events.slice(1), ninth].map((e) => e.position));
  });

  it('a new client resumes from where the feed is, and skips what it may not see', async () => {
    const response = new RecordedResponse();
    const feed = new ManualFeed(events[7].position);
    client(response, feed, null, { visible: (owner) => owner === 'alice', heartbeatMs: 10 }).start();
    expect(response.chunks[0]).toBe(`retry: 2000\nid: ${events[7].position}\nevent: ready\ndata: {"position":"${events[7].position}","resumed":false}\n\n`);

    await launch('d9', 'bob');
    const [bobs] = await store.readAll({ from: { after: events[7].position } });
    feed.listener?.change(await changeOf(bobs));
    expect(response.sent).toEqual([]);
    // The next heartbeat tells it how far it has been, so a reconnect reads nothing twice.
    await waitFor(() => response.chunks.includes(`: keep-alive\nid: ${bobs.position}\n\n`));
  });

  it('disconnects a client whose held changes outgrow its buffer while it catches up slowly', async () => {
    const response = new RecordedResponse();
    // A socket that never drains: the catch-up waits after its first message.
    response.writableLength = 900;
    const feed = new ManualFeed(events[7].position);
    const closed: CloseReason[] = [];
    client(response, feed, events[0].position, { bufferBytes: 1_000 }, (reason) => closed.push(reason)).start();
    await waitFor(() => response.sent.length === 1);

    await launch('d9');
    await launch('d10');
    const later = await store.readAll({ from: { after: events[7].position } });
    for (const event of later) feed.listener?.change(await changeOf(event));

    expect(closed).toEqual(['slow']);
    expect(response.destroyed).toBe(true);
    expect(feed.listener).toBeNull();
    expect(response.sent).toEqual([events[1].position]);
  });
});
