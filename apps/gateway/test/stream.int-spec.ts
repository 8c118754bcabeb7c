import { Actor, DomainError, SimDeploymentCommand, SimDeploymentEvent, command, fold } from '@simdeploy/domain';
import { ANY_REVISION, JetStreamEventStore, RecordedEvent } from '@simdeploy/event-store';
import { waitFor } from '@simdeploy/testing';
import { DeploymentCommandHandler } from '@simdeploy/workflows';
import { request } from 'node:http';
import { SseConnection, changes, followSse, openSse } from './support/sse';
import { TestGateway, startTestGateway, token } from './support/test-gateway';

const launchBody = (labels: Record<string, string> = {}) => ({
  world: 'worlds/warehouse.sdf',
  image: 'gazebo/gz-sim:harmonic',
  robots: [{ name: 'x1', image: 'acme/robot:1' }],
  nodeInstanceType: 'g4dn.xlarge',
  labels,
});

const WORKER: Actor = { subject: 'service:test-worker', roles: ['service'] };

/** Moves a deployment through a whole lifecycle the way the workers would, one decided command at a time. */
async function runLifecycle(handler: DeploymentCommandHandler, id: string, owner: Actor): Promise<void> {
  const step = async <T extends SimDeploymentCommand['type']>(type: T, data: Extract<SimDeploymentCommand, { type: T }>['data'], by = WORKER) => {
    const result = await handler.handle(id, command(type, data as never, { now: new Date().toISOString(), by }));
    if (result instanceof DomainError) throw new Error(`${type} on ${id}: ${result.message}`);
    if (!result.state) throw new Error(`${type} left no deployment`);
    return result.state;
  };
  const launching = await step('StartLaunchingNodes', {});
  for (const node of launching.nodes) {
    await step('RecordInstance', { role: node.role, index: node.index, instanceId: `i-${id.slice(0, 8)}-${node.index}`, nodeName: `n-${node.index}` });
  }
  await step('StartLaunchingPods', {});
  await step('RecordWorkloadCreated', {});
  await step('MarkRunning', {});
  await step('RequestStop', { reason: 'user' }, owner);
  await step('StartDeletingPods', {});
  await step('StartDeletingNodes', {});
  await step('StartTerminatingInstances', {});
  await step('MarkTerminated', {});
}

/** The view each event left, folded here from the recorded events: what every message must carry. */
function expectedStatuses(events: RecordedEvent[]): Map<string, string> {
  const byStream = new Map<string, SimDeploymentEvent[]>();
  const statusAt = new Map<string, string>();
  for (const e of events) {
    const stream = byStream.get(e.streamId) ?? [];
    stream.push({ type: e.type, data: e.data } as SimDeploymentEvent);
    byStream.set(e.streamId, stream);
    statusAt.set(e.position, fold(stream)?.status ?? 'none');
  }
  return statusAt;
}

describe('GET /simulations/stream', () => {
  let gateway: TestGateway;
  let store: JetStreamEventStore;
  let handler: DeploymentCommandHandler;
  let alice: string;
  let bob: string;
  let admin: string;
  const open: SseConnection[] = [];

  const stream = async (auth: string, query = '', headers: Record<string, string> = {}) => {
    const connection = await openSse(`${gateway.base}/simulations/stream${query}`, { authorization: `Bearer ${auth}`, ...headers });
    open.push(connection);
    return connection;
  };
  const ready = (connection: SseConnection) =>
    waitFor(() => connection.messages.find((m) => m.event === 'ready'), { description: 'the ready message' });
  const launch = async (auth: string, labels: Record<string, string> = {}): Promise<string> => {
    const response = await fetch(`${gateway.base}/simulations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${auth}`, 'content-type': 'application/json' },
      body: JSON.stringify(launchBody(labels)),
    });
    expect(response.status).toBe(202);
    return ((await response.json()) as { id: string }).id;
  };
  const eventsOf = async (ids: readonly string[]) => {
    const wanted = new Set(ids);
    return (await store.readAll({ from: 'start' })).filter((e) => wanted.has(e.streamId));
  };

  beforeAll(async () => {
    gateway = await startTestGateway('SSE', { env: { SSE_HEARTBEAT_MS: '200' } });
    store = await JetStreamEventStore.create(gateway.nc, {
      streamName: gateway.config.EVENTS_STREAM,
      subjectPrefix: gateway.config.EVENTS_SUBJECT_PREFIX,
    });
    handler = new DeploymentCommandHandler(store);
    [alice, bob, admin] = await Promise.all([token('alice'), token('bob'), token('root', ['admin'])]);
  });

  afterEach(() => {
    for (const connection of open.splice(0)) connection.close();
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('needs a token, and names a bad filter or Last-Event-ID in a JSON 400', async () => {
    expect((await openSse(`${gateway.base}/simulations/stream`)).status).toBe(401);
    const badStatus = await stream(alice, '?status=Flying');
    expect(badStatus.status).toBe(400);
    expect(badStatus.errorBody.message).toMatch(/^status must be one of/);
    const badId = await stream(alice, '?id=Not_An_Id');
    expect(badId.status).toBe(400);
    expect(badId.errorBody.message).toMatch(/^id must be simulation ids/);
    const badLabel = await stream(alice, '?label=%3Dx');
    expect(badLabel.status).toBe(400);
    expect(JSON.stringify(badLabel.errorBody.message)).toContain('label must be key=value or key');
    const badResume = await stream(alice, '', { 'last-event-id': 'yesterday' });
    expect(badResume.status).toBe(400);
    expect(badResume.errorBody.message).toMatch(/^Last-Event-ID must be/);
  });

  it('sends every change of a lifecycle with its event and the view it left, as they happen', async () => {
    const connection = await stream(alice);
    expect(connection.status).toBe(200);
    expect(connection.contentType).toContain('text/event-stream');
    await ready(connection);

    const id = await launch(alice, { team: 'nav' });
    await runLifecycle(handler, id, { subject: 'alice', roles: [] });
    const recorded = await eventsOf([id]);
    await waitFor(() => changes(connection).length >= recorded.length, { description: 'every change of the lifecycle' });

    const received = changes(connection);
    expect(received.map((c) => c.sseId)).toEqual(recorded.map((e) => e.position));
    expect(received.map((c) => c.position)).toEqual(recorded.map((e) => e.position));
    expect(received.map((c) => c.event.type)).toEqual(recorded.map((e) => e.type));
    expect(received[0]).toMatchObject({
      deploymentId: id,
      event: { type: 'SimulationRequested', recordedAt: recorded[0].recordedAt, data: { owner: 'alice' } },
      view: { id, owner: 'alice', status: 'Pending', errorStatus: null, spec: { labels: { team: 'nav' } } },
    });
    const statusAt = expectedStatuses(recorded);
    expect(received.map((c) => c.view.status)).toEqual(recorded.map((e) => statusAt.get(e.position)));
    expect(received.at(-1).view).toMatchObject({ status: 'Terminated', terminatedAt: expect.any(String) });
  });

  it("shows a user only their own simulations, and an admin everyone's", async () => {
    const [aliceStream, bobStream, adminStream] = await Promise.all([stream(alice), stream(bob), stream(admin)]);
    await Promise.all([aliceStream, bobStream, adminStream].map(ready));
    const [aliceId, bobId] = await Promise.all([launch(alice), launch(bob)]);
    await waitFor(() => changes(adminStream).filter((c) => [aliceId, bobId].includes(c.deploymentId)).length === 2, {
      description: "the admin sees both launches",
    });
    // The feed hands each change to every client in one pass: the others have had theirs.
    expect(changes(aliceStream).map((c) => c.deploymentId)).toEqual([aliceId]);
    expect(changes(bobStream).map((c) => c.deploymentId)).toEqual([bobId]);
  });

  it('filters by id, status, error status and label, judged on the view each change left', async () => {
    const aliceIdsBefore = await Promise.all([launch(alice, { team: 'nav' }), launch(alice, { team: 'arm' })]);
    const [navId, armId] = aliceIdsBefore;
    const byId = await stream(alice, `?id=${armId}`);
    const running = await stream(alice, '?status=Running');
    const notPending = await stream(alice, '?status=!Pending,Terminated&errorStatus=none');
    const nav = await stream(alice, '?label=team=nav');
    const hasTeam = await stream(alice, '?label=team');
    const everything = await stream(admin);
    await Promise.all([byId, running, notPending, nav, hasTeam, everything].map(ready));

    await Promise.all([
      runLifecycle(handler, navId, { subject: 'alice', roles: [] }),
      runLifecycle(handler, armId, { subject: 'alice', roles: [] }),
    ]);
    const recorded = await eventsOf([navId, armId]);
    const lifecycleEvents = recorded.length - 2; // less the two SimulationRequested, sent before the streams opened
    await waitFor(() => changes(everything).length >= lifecycleEvents, { description: 'the admin sees both lifecycles' });

    expect(new Set(changes(byId).map((c) => c.deploymentId))).toEqual(new Set([armId]));
    expect(changes(byId)).toHaveLength(lifecycleEvents / 2);
    // Running: the change that made it Running, and the one recorded while it stayed so (none here).
    expect(changes(running).map((c) => [c.deploymentId, c.event.type]).sort()).toEqual(
      [
        [armId, 'SimulationRunning'],
        [navId, 'SimulationRunning'],
      ].sort(),
    );
    expect(changes(notPending).every((c) => c.view.status !== 'Pending' && c.view.status !== 'Terminated')).toBe(true);
    expect(changes(notPending).length).toBe(lifecycleEvents - 2);
    expect(new Set(changes(nav).map((c) => c.deploymentId))).toEqual(new Set([navId]));
    expect(changes(hasTeam)).toHaveLength(lifecycleEvents);
  });

  it('writes heartbeats, which move the Last-Event-ID past changes the filters left out', async () => {
    const nobodys = '00000000-0000-4000-8000-000000000000';
    const connection = await stream(alice, `?id=${nobodys}`);
    await ready(connection);
    await waitFor(() => connection.comments.includes('keep-alive'), { timeoutMs: 2_000, description: 'a heartbeat' });

    const id = await launch(alice);
    const [requested] = await eventsOf([id]);
    await waitFor(() => connection.bareIds.includes(requested.position), { timeoutMs: 2_000, description: 'a heartbeat with the id' });
    expect(changes(connection)).toEqual([]);
    expect(connection.lastEventId).toBe(requested.position);

    // Resuming from there reads nothing again: the next change it may see is the first it gets.
    connection.close();
    const resumed = await stream(alice, '', { 'last-event-id': connection.lastEventId as string });
    await ready(resumed);
    await runLifecycle(handler, id, { subject: 'alice', roles: [] });
    const recorded = await eventsOf([id]);
    await waitFor(() => changes(resumed).length === recorded.length - 1, { description: 'the lifecycle after the resume' });
    expect(changes(resumed).map((c) => c.position)).toEqual(recorded.slice(1).map((e) => e.position));
  });

  it('resumes with Last-Event-ID in the middle of a burst of 100 lifecycles: every change once, in order', async () => {
    const owners = [
      { auth: alice, actor: { subject: 'alice', roles: [] } },
      { auth: bob, actor: { subject: 'bob', roles: [] } },
    ];
    const sessions: SseConnection[] = [await stream(admin)];
    await ready(sessions[0]);
    let resumeFrom: string | null = null;
    // Twice, while the burst runs, the client goes away and comes back as a browser would:
    // with the id of the last message it read.
    const reconnect = async () => {
      const current = sessions[sessions.length - 1];
      current.close();
      await current.ended;
      resumeFrom = current.lastEventId ?? resumeFrom;
      if (resumeFrom === null) throw new Error('no message yet to resume from');
      const resumed = await stream(admin, '', { 'last-event-id': resumeFrom });
      sessions.push(resumed);
    };

    const ids: string[] = [];
    let late: SseConnection | undefined;
    const queue = Array.from({ length: 100 }, (_, i) => owners[i % 2]);
    let finished = 0;
    const worker = async () => {
      for (let owner = queue.shift(); owner; owner = queue.shift()) {
        const id = await launch(owner.auth, { burst: 'yes' });
        ids.push(id);
        await runLifecycle(handler, id, owner.actor);
        finished += 1;
        if (finished === 45) {
          // One that was away since the burst's first change: a long catch-up while the burst goes on.
          late = await stream(admin, '', { 'last-event-id': changes(sessions[0])[0].position });
        }
        if (finished === 30 || finished === 60) {
          await waitFor(() => changes(sessions[sessions.length - 1]).length > 0, { description: 'a change before going away' });
          await reconnect();
        }
      }
    };
    await Promise.all(Array.from({ length: 10 }, worker));
    expect(sessions).toHaveLength(3);

    const recorded = await eventsOf(ids);
    const expected = recorded.map((e) => e.position);
    const received = () => sessions.flatMap((s) => changes(s)).filter((c) => ids.includes(c.deploymentId));
    await waitFor(() => received().length >= expected.length, { timeoutMs: 30_000, description: 'every change of the burst' });

    expect(recorded.length).toBeGreaterThanOrEqual(100 * 10);
    expect(sessions.map((s) => changes(s).length).every((n) => n > 0)).toBe(true);
    expect(received().map((c) => c.position)).toEqual(expected);
    const lateChanges = () => changes(late as SseConnection).filter((c) => ids.includes(c.deploymentId));
    await waitFor(() => lateChanges().length >= expected.length - 1, { timeoutMs: 30_000, description: 'the late client catches up' });
    expect(lateChanges().map((c) => c.position)).toEqual(expected.slice(1));
    const statusAt = expectedStatuses(recorded);
    expect(received().map((c) => c.view.status)).toEqual(recorded.map((e) => statusAt.get(e.position)));
  }, 90_000);
});

describe('GET /simulations/stream with a slow client', () => {
  let gateway: TestGateway;
  let store: JetStreamEventStore;

  beforeAll(async () => {
    gateway = await startTestGateway('SSESLOW', { env: { SSE_CLIENT_BUFFER_BYTES: String(256 * 1024) } });
    store = await JetStreamEventStore.create(gateway.nc, {
      streamName: gateway.config.EVENTS_STREAM,
      subjectPrefix: gateway.config.EVENTS_SUBJECT_PREFIX,
    });
  });

  afterAll(async () => {
    await gateway?.close();
  });

  it('disconnects a client that falls behind its buffer; it resumes with Last-Event-ID and misses nothing', async () => {
    const admin = await token('root', ['admin']);
    // One that reads, and comes back if it is cut too (it shares the test's event loop with the gateway).
    const observer = await followSse(`${gateway.base}/simulations/stream`, { authorization: `Bearer ${admin}` });
    await waitFor(() => observer.connections[0].messages.some((m) => m.event === 'ready'));

    // A client that stops reading: its socket is left unread, so the gateway's buffer fills.
    const slow = { text: '', cut: false, finished: false };
    const slowRequest = request(`${gateway.base}/simulations/stream`, { headers: { authorization: `Bearer ${admin}` } }, (response) => {
      response.setEncoding('utf8');
      response.pause();
      response.on('data', (chunk: string) => (slow.text += chunk));
      response.on('aborted', () => (slow.cut = true));
      response.on('error', () => (slow.cut = true));
      response.on('close', () => (slow.finished = true));
      slowResponse = response;
    });
    let slowResponse: import('node:http').IncomingMessage | undefined;
    slowRequest.on('error', () => (slow.cut = true));
    slowRequest.end();
    await waitFor(() => slowResponse);

    const launched = await fetch(`${gateway.base}/simulations`, {
      method: 'POST',
      headers: { authorization: `Bearer ${admin}`, 'content-type': 'application/json' },
      body: JSON.stringify(launchBody()),
    });
    const { id } = (await launched.json()) as { id: string };
    // 200 changes of 60 KB each: far more than the socket buffers and the 256 KiB allowed.
    for (let i = 0; i < 200; i++) {
      await store.append(
        id,
        [{ type: 'WaitingReported', data: { at: new Date().toISOString(), stage: 'Pending', step: 'pad', code: `Pad${i}`, message: 'x'.repeat(60_000) } }],
        ANY_REVISION,
      );
    }
    await waitFor(() => observer.changes().length === 201, { timeoutMs: 30_000, description: 'the observer has every change' });
    const expected = observer.changes().map((c) => c.position);

    // The feed handed the slow client the same changes in the same pass: it has been cut by now.
    slowResponse?.resume();
    await waitFor(() => slow.finished, { timeoutMs: 10_000, description: 'the slow connection ends' });
    expect(slow.cut).toBe(true);
    const completeIds = [...slow.text.matchAll(/^id: (\d+)\nevent: change\ndata: .*\n\n/gm)].map((m) => m[1]);
    expect(completeIds.length).toBeLessThan(expected.length);
    expect(completeIds).toEqual(expected.slice(0, completeIds.length));

    const resumed = await openSse(`${gateway.base}/simulations/stream`, {
      authorization: `Bearer ${admin}`,
      'last-event-id': completeIds.at(-1) ?? expected[0],
    });
    try {
      const rest = expected.slice(completeIds.length === 0 ? 1 : completeIds.length);
      await waitFor(() => changes(resumed).length >= rest.length, { timeoutMs: 30_000, description: 'the rest after the resume' });
      expect(changes(resumed).map((c) => c.position)).toEqual(rest);
    } finally {
      resumed.close();
      observer.close();
    }
  }, 60_000);
});
