import { connect, type NatsConnection } from '@nats-io/transport-node';
import { CURRENT_SCHEMA_VERSION, Status, command, fold, type SimDeploymentEvent } from '@simdeploy/domain';
import { JetStreamEventStore, NO_STREAM } from '@simdeploy/event-store';
import { InMemoryReadModel, rebuildReadModel } from '@simdeploy/read-model';
import { lifecycle, uniqueName } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { DeploymentCommandHandler } from '../src/command-handler';

/**
 * A stream written before schema versions existed (no schemaVersion, failures without
 * `attempt`), appended raw through the port, replays to the same state and read-model view as
 * the same history written now.
 */
describe('a version 1 stream on a real nats-server', () => {
  let nc: NatsConnection;
  const stores: JetStreamEventStore[] = [];
  const newStore = async () => {
    const store = await JetStreamEventStore.create(nc, { streamName: uniqueName('V1_EVENTS'), subjectPrefix: uniqueName('v1') });
    stores.push(store);
    return store;
  };

  beforeAll(async () => {
    nc = await connect({ servers: process.env['NATS_URL'] });
  });
  afterAll(async () => {
    await Promise.all(stores.map((s) => s.close()));
    await nc.close();
  });

  it('folds, projects and reads through the command handler as the current one does', async () => {
    const id = randomUUID();
    // A rolled-back launch: its LaunchFailed is the event whose shape changed in version 2.
    const current: SimDeploymentEvent[] = lifecycle({ id, owner: 'alice', requestedAt: Date.UTC(2025, 5, 1), outcome: 'rolled-back' }).map((e) =>
      e.type === 'LaunchFailed' ? { ...e, data: { ...e.data, attempt: 1 } } : e,
    );
    const v1 = current.map((e) => {
      if (e.type !== 'LaunchFailed') return { type: e.type, data: e.data };
      const { attempt: _added, ...older } = e.data;
      return { type: e.type, data: older };
    });
    expect(v1.some((e) => e.type === 'LaunchFailed' && !('attempt' in e.data))).toBe(true);

    const oldStore = await newStore();
    const newStoreNow = await newStore();
    await oldStore.append(id, v1, NO_STREAM);
    await newStoreNow.append(id, current.map((e) => ({ type: e.type, data: e.data, metadata: { schemaVersion: CURRENT_SCHEMA_VERSION } })), NO_STREAM);
    expect((await oldStore.readStream(id)).events.every((e) => e.metadata === undefined)).toBe(true);

    const loadedOld = await new DeploymentCommandHandler(oldStore).load(id);
    const loadedNew = await new DeploymentCommandHandler(newStoreNow).load(id);
    expect(loadedOld.state).toEqual(loadedNew.state);
    expect(loadedOld.state).toEqual(fold(current));
    expect(loadedOld.state?.status).toBe(Status.Terminated);
    expect(loadedOld.state?.failures[0]?.attempt).toBe(1);

    const viewOld = new InMemoryReadModel();
    const viewNew = new InMemoryReadModel();
    await rebuildReadModel(oldStore, viewOld);
    await rebuildReadModel(newStoreNow, viewNew);
    expect(await viewOld.get(id)).toEqual(await viewNew.get(id));
    expect((await viewOld.get(id))?.failures[0]).toMatchObject({ step: 'waitNodesReady', attempt: 1 });
  });

  it('the command handler writes the current schema version on every event', async () => {
    const store = await newStore();
    const handler = new DeploymentCommandHandler(store);
    const id = randomUUID();
    const [request] = lifecycle({ id, owner: 'alice', requestedAt: Date.UTC(2025, 5, 1), outcome: 'rejected' });
    expect(request?.type).toBe('SimulationRequested');
    const data = request?.data as Extract<SimDeploymentEvent, { type: 'SimulationRequested' }>['data'];
    const result = await handler.handle(id, command('RequestLaunch', { deploymentId: id, owner: data.owner, spec: data.spec, provider: data.provider }, { now: data.requestedAt, by: data.requestedBy }));
    expect(result).toMatchObject({ events: [{ type: 'SimulationRequested' }] });
    expect((await store.readStream(id)).events.map((e) => e.metadata?.['schemaVersion'])).toEqual([CURRENT_SCHEMA_VERSION]);
  });
});
