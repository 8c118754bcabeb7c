import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import {
  DomainError,
  IllegalTransitionError,
  NotFoundError,
  Status,
  canTransition,
  command,
  evolve,
  isTerminating,
  isSimDeploymentEvent,
  type Actor,
  type SimDeploymentCommand,
  type SimDeploymentState,
} from '@simdeploy/domain';
import { uniqueName } from '@simdeploy/testing';
import { DeploymentCommandHandler, type HandledCommand } from '../src/command-handler';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { randomBytes } from 'node:crypto';

const newDeploymentId = (): string => `t-${randomBytes(6).toString('hex')}`;

const launcher: Actor = { subject: 'service:launcher', roles: ['service'] };
type Data<T extends SimDeploymentCommand['type']> = Extract<SimDeploymentCommand, { type: T }>['data'];
const cmd = <T extends SimDeploymentCommand['type']>(type: T, data: Data<T>): SimDeploymentCommand =>
  command(type, data as never, { now: new Date().toISOString(), by: launcher });
const launch = (deploymentId: string) =>
  cmd('RequestLaunch', {
    deploymentId,
    owner: 'alice',
    provider: 'local',
    spec: { world: 'w.sdf', simulatorImage: 'gz:1', robots: [{ name: 'r1', image: 'robot:1' }], nodeInstanceType: 'm5.large', labels: {} },
  });

describe('DeploymentCommandHandler on the JetStream store', () => {
  let nc: NatsConnection;
  let store: JetStreamEventStore;

  beforeAll(async () => {
    nc = await connect({ servers: process.env['NATS_URL'] });
    store = await JetStreamEventStore.create(nc, { streamName: uniqueName('EVENTS'), subjectPrefix: uniqueName('sd') });
  });
  afterAll(async () => {
    await store.close();
    await (await jetstreamManager(nc)).streams.delete(store.streamName);
    await nc.close();
  });

  it('appends a decided command with the expected revision and refuses an illegal one with its domain error', async () => {
    const handler = new DeploymentCommandHandler(store);
    const id = newDeploymentId();

    const launched = (await handler.handle(id, launch(id))) as HandledCommand;
    expect(launched.state?.status).toBe(Status.Pending);
    const nodes = (await handler.handle(id, cmd('StartLaunchingNodes', {}))) as HandledCommand;
    expect(nodes.events.map((e) => e.type)).toEqual(['NodesLaunchStarted']);
    expect((await store.readStream(id)).revision).toBe(nodes.revision);

    const refused = await handler.handle(id, cmd('MarkRunning', {}));
    expect(refused).toBeInstanceOf(IllegalTransitionError);
    expect(await handler.handle(newDeploymentId(), cmd('MarkRunning', {}))).toBeInstanceOf(NotFoundError);
    expect((await store.readStream(id)).events).toHaveLength(2);
  });

  it('never stores an illegal sequence when handlers race on one deployment', async () => {
    const id = newDeploymentId();
    const setup = new DeploymentCommandHandler(store);
    await setup.handle(id, launch(id));
    await setup.handle(id, cmd('StartLaunchingNodes', {}));

    const racing: SimDeploymentCommand[] = [
      ...Array.from({ length: 10 }, () => cmd('RequestStop', { reason: 'user' })),
      cmd('RecordInstance', { role: 'simulator', index: 0, instanceId: 'i-sim', nodeName: 'n-sim' }),
      cmd('RecordInstance', { role: 'robots', index: 0, instanceId: 'i-rob', nodeName: 'n-rob' }),
      cmd('StartLaunchingPods', {}),
      cmd('MarkRunning', {}),
      cmd('StartDeletingPods', {}),
      cmd('StartDeletingNodes', {}),
    ];
    // Each command through its own handler: separate caches, as separate replicas would have.
    const results = await Promise.all(racing.map((c) => new DeploymentCommandHandler(store, { maxAttempts: 50 }).handle(id, c)));
    expect(results.every((r) => r instanceof DomainError || Array.isArray(r.events))).toBe(true);

    const stored = (await store.readStream(id)).events.map((e) => ({ type: e.type, data: e.data }));
    expect(stored.filter((e) => e.type === 'StopRequested')).toHaveLength(1);
    let state: SimDeploymentState = null;
    const illegal: string[] = [];
    for (const event of stored) {
      if (!isSimDeploymentEvent(event)) throw new Error(`unexpected event ${event.type}`);
      const before = state;
      state = evolve(state, event);
      if (before && state && before.status !== state.status && !canTransition(before.status, state.status)) {
        illegal.push(`${before.status} -> ${state.status}`);
      }
    }
    expect(illegal).toEqual([]);
    // Every stop is accepted in a non-final status, so the race always ends terminating.
    expect(state && isTerminating(state.status)).toBe(true);
  });

  it('catches a cached state up with events another handler appended', async () => {
    const id = newDeploymentId();
    const mine = new DeploymentCommandHandler(store);
    const theirs = new DeploymentCommandHandler(store);
    await mine.handle(id, launch(id));
    const cached = await mine.load(id);

    await theirs.handle(id, cmd('StartLaunchingNodes', {}));
    const reads = jest.spyOn(store, 'readStream');
    const caughtUp = await mine.load(id);
    expect(reads).toHaveBeenCalledWith(id, { after: cached.revision });
    reads.mockRestore();
    expect(caughtUp.state?.status).toBe(Status.LaunchingNodes);
    expect(caughtUp.revision).toBe((await store.readStream(id)).revision);
  });
});
