import 'reflect-metadata';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import {
  FaultInjectingNodeProvider,
  FaultInjectingPodRuntime,
  FaultInjector,
  LocalNodeProvider,
  LocalPodRuntime,
  claimOwnership,
  releaseAndKillAll,
} from '@simdeploy/cloud';
import { loadConfig } from '@simdeploy/config';
import { Actor, DomainError, SimDeploymentCommand, Status, command } from '@simdeploy/domain';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { Projector, ReadModel, openReadModel } from '@simdeploy/read-model';
import { DeploymentCommandHandler, ProviderRegistry } from '@simdeploy/workflows';
import { CommandKind, JetStreamCommandBus, NATS_CONNECTION } from '@simdeploy/messaging';
import { uniqueName, waitFor } from '@simdeploy/testing';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ErrorHandlerConfig } from '../src/app/error-handler.config';
import { ErrorHandlerRunner } from '../src/app/error-handler.runner';

const USER: Actor = { subject: 'alice', roles: [] };
const TTL_MS = 1_500;

interface Replica {
  runner: ErrorHandlerRunner;
  faults: FaultInjector;
}

describe('error handler: one active replica, a standby that takes over', () => {
  let config: ErrorHandlerConfig;
  let stateDir: string;
  let nc: NatsConnection;
  let handler: DeploymentCommandHandler;
  let bus: JetStreamCommandBus;
  // The gateway's part: it projects the read model the error handlers read their active deployments from.
  let readModel: ReadModel;
  let projector: Projector;
  const replicas: Replica[] = [];

  const exec = async <T extends SimDeploymentCommand['type']>(id: string, type: T, data: Extract<SimDeploymentCommand, { type: T }>['data']) => {
    const result = await handler.handle(id, command(type, data as never, { now: new Date().toISOString(), by: USER }));
    if (result instanceof DomainError) throw result;
    return result;
  };

  /** A launch that failed in LaunchingNodes, as a launcher records it; the HandleFailure command is sent unless `send` is false. */
  async function failedLaunch(send = true): Promise<string> {
    const id = randomUUID();
    const spec = { world: 'w.sdf', simulatorImage: 'gz', robots: [], nodeInstanceType: 'g4dn.xlarge', labels: {} };
    await exec(id, 'RequestLaunch', { deploymentId: id, owner: USER.subject, spec, provider: 'local' });
    await exec(id, 'StartLaunchingNodes', {});
    await exec(id, 'RecordFailure', {
      source: 'worker',
      stage: Status.LaunchingNodes,
      step: 'launchNode',
      error: { code: 'InjectedFault', message: 'injected', transient: false },
      attempt: 1,
    });
    if (send) await bus.send({ deploymentId: id, kind: CommandKind.HandleFailure, issuedAt: new Date().toISOString(), reason: 'step-failed' });
    return id;
  }

  async function replica(holder: string): Promise<Replica> {
    const faults = new FaultInjector();
    const registry = new ProviderRegistry(
      {
        local: {
          nodes: new FaultInjectingNodeProvider(new LocalNodeProvider({ stateDir }), faults),
          pods: new FaultInjectingPodRuntime(new LocalPodRuntime({ stateDir }), faults),
        },
      },
      'local',
    );
    const r = { runner: await ErrorHandlerRunner.start(config, { registry, logger: ['error'], holder }), faults };
    replicas.push(r);
    return r;
  }

  const terminated = (id: string) =>
    waitFor(async () => (await handler.load(id)).state?.status === Status.Terminated, { timeoutMs: TTL_MS * 4, description: `${id} terminated` });
  /** Whose providers rolled the deployment back. */
  const handledBy = (r: Replica, id: string) => r.faults.count('terminateDeployment', id) > 0;

  beforeAll(async () => {
    stateDir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-eh-'));
    await claimOwnership(stateDir);
    const name = uniqueName('EH');
    config = loadConfig(ErrorHandlerConfig, {
      NATS_URL: process.env['NATS_URL'],
      EVENTS_STREAM: `${name}_EV`,
      EVENTS_SUBJECT_PREFIX: `${name.toLowerCase()}.ev`,
      COMMANDS_STREAM: `${name}_CMD`,
      COMMANDS_SUBJECT_PREFIX: `${name.toLowerCase()}.cmd`,
      LOCAL_STATE_DIR: stateDir,
      ACK_WAIT_MS: '2000',
      LEADER_LEASE_TTL_MS: String(TTL_MS),
      LEADER_LEASE_BUCKET: name,
      RECONCILE_INTERVAL_MS: '200',
      RECONCILE_GRACE_MS: '500',
      READ_MODEL_URL: `sqlite:${join(stateDir, 'read-model.sqlite')}`,
    });
    nc = await connect({ servers: config.NATS_URL });
    const store = await JetStreamEventStore.create(nc, { streamName: config.EVENTS_STREAM, subjectPrefix: config.EVENTS_SUBJECT_PREFIX });
    handler = new DeploymentCommandHandler(store);
    const topology = { streamName: config.COMMANDS_STREAM, subjectPrefix: config.COMMANDS_SUBJECT_PREFIX };
    await JetStreamCommandBus.ensureTopology(nc, topology);
    bus = new JetStreamCommandBus(nc, topology);
    readModel = await openReadModel(config.READ_MODEL_URL);
    await readModel.migrate();
    projector = new Projector(store, readModel);
    projector.start();
  });

  afterAll(async () => {
    await Promise.allSettled(replicas.map((r) => r.runner.stop()));
    await projector?.stop();
    await readModel?.close();
    const jsm = await jetstreamManager(nc);
    for (const stream of [config.EVENTS_STREAM, config.COMMANDS_STREAM, `KV_${config.LEADER_LEASE_BUCKET}`]) {
      await jsm.streams.delete(stream).catch(() => undefined);
    }
    await nc.close();
    await releaseAndKillAll(stateDir, 500);
    await fs.rm(stateDir, { recursive: true, force: true });
  });

  it('only the leader handles failures; killed, the standby takes over and its reconciler recovers a lost command', async () => {
    const a = await replica('a');
    const b = await replica('b');
    const leader = await waitFor(() => [a, b].find((r) => r.runner.active), { description: 'an active error handler' });
    const standby = leader === a ? b : a;
    expect(standby.runner.active).toBeUndefined();

    const ids = [await failedLaunch(), await failedLaunch(), await failedLaunch()];
    for (const id of ids) await terminated(id);
    expect(ids.filter((id) => handledBy(leader, id))).toEqual(ids);
    expect(ids.filter((id) => handledBy(standby, id))).toEqual([]);
    expect(standby.runner.active).toBeUndefined();

    // kill -9 in-process: both of the leader's connections drop with no goodbye.
    await leader.runner.active?.get<NatsConnection>(NATS_CONNECTION).close();
    await (leader.runner.lease as unknown as { nc: NatsConnection }).nc.close();

    // Lost between append and publish: only a reconciler, now the standby's, can revive it.
    const lost = await failedLaunch(false);
    const handedOver = await failedLaunch();
    await waitFor(() => standby.runner.active, { timeoutMs: TTL_MS * 3, description: 'the standby to take over' });
    await terminated(handedOver);
    await terminated(lost);
    expect(handledBy(standby, handedOver)).toBe(true);
    expect(handledBy(standby, lost)).toBe(true);
    expect(handledBy(leader, lost) || handledBy(leader, handedOver)).toBe(false);
    expect((await handler.load(lost)).state?.errorStatus).toBe('InitializationFailed');
  });
});
