import 'reflect-metadata';
import { DynamicModule, INestMicroservice, Module } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
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
import { WorkerConfig, loadConfig } from '@simdeploy/config';
import {
  Actor,
  DomainError,
  SimDeployment,
  SimDeploymentCommand,
  SimulationSpec,
  WorkOwner,
  command,
} from '@simdeploy/domain';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { JetStreamCommandBus, JetStreamCommandScheduler, commandMicroserviceOptions } from '@simdeploy/messaging';
import { uniqueName, waitFor } from '@simdeploy/testing';
import { DeploymentCommandHandler, Dispatcher, ProviderRegistry, SystemClock, type Providers } from '@simdeploy/workflows';
import { randomUUID } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FailureController, LaunchController, TerminateController, WorkerModule } from '../../src';

const CONTROLLERS = { launcher: LaunchController, terminator: TerminateController, 'error-handler': FailureController };

/** The launcher, terminator and error handler wired as in apps/*, each on WorkerModule and its own connection. */
@Module({})
class ServiceModule {
  static forRoot(config: WorkerConfig, service: WorkOwner, registry: ProviderRegistry): DynamicModule {
    return { module: ServiceModule, imports: [WorkerModule.forRoot(config, service, registry)], controllers: [CONTROLLERS[service]] };
  }
}

/** Nodes of the `slowboot` provider stay booting this long, past the node-ready deadline. */
export const SLOW_BOOT_MS = 60_000;
/** The `neverready` provider's simulator stays alive and never creates its ready file. */
const NEVER_READY = [process.execPath, '-e', 'setInterval(() => undefined, 1000)'];
/** The `crashing` provider's simulator: what a bad image or command does, it says why and exits 3. */
export const CRASHING = ['sh', '-c', 'echo loading world; echo cannot open display >&2; exit 3'];
export type TestProvider = 'local' | 'slowboot' | 'neverready' | 'crashing';

export const USER: Actor = { subject: 'alice', roles: [] };
export const ADMIN: Actor = { subject: 'root', roles: ['admin'] };

export const SPEC: SimulationSpec = {
  world: 'worlds/warehouse.sdf',
  simulatorImage: 'gazebo/gz-sim:harmonic',
  robots: [{ name: 'x1', image: 'acme/robot:1' }],
  nodeInstanceType: 'g4dn.xlarge',
  labels: {},
};

export interface SystemOptions {
  /** WorkerConfig variables on top of the fast defaults below. */
  env?: Record<string, string>;
  services?: WorkOwner[];
}

/**
 * The three workers in this process on the Jest nats-server, over real local providers
 * (child processes in a temp state dir) wrapped in a fault injector, with private streams.
 * Requests go in as the gateway sends them: append through the command handler, then the command.
 */
export class TestSystem {
  readonly faults = new FaultInjector();
  readonly apps: INestMicroservice[] = [];
  handler!: DeploymentCommandHandler;
  bus!: JetStreamCommandBus;
  scheduler!: JetStreamCommandScheduler;
  dispatcher!: Dispatcher;
  store!: JetStreamEventStore;
  nodes!: LocalNodeProvider;
  pods!: LocalPodRuntime;
  registry!: ProviderRegistry;
  config!: WorkerConfig;
  private nc!: NatsConnection;
  private stateDir!: string;

  static async start(options: SystemOptions = {}): Promise<TestSystem> {
    const system = new TestSystem();
    await system.init(options);
    return system;
  }

  private async init(options: SystemOptions): Promise<void> {
    this.stateDir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-failures-'));
    await claimOwnership(this.stateDir);
    const name = uniqueName('FH');
    this.config = loadConfig(WorkerConfig, {
      NATS_URL: process.env['NATS_URL'],
      EVENTS_STREAM: `${name}_EV`,
      EVENTS_SUBJECT_PREFIX: `${name.toLowerCase()}.ev`,
      COMMANDS_STREAM: `${name}_CMD`,
      COMMANDS_SUBJECT_PREFIX: `${name.toLowerCase()}.cmd`,
      LOCAL_STATE_DIR: this.stateDir,
      ACK_WAIT_MS: '5000',
      NODE_READY_TIMEOUT_S: '2',
      POD_READY_TIMEOUT_S: '2',
      READINESS_POLL_MS: '50',
      PROVIDER_MAX_ATTEMPTS: '3',
      PROVIDER_RETRY_BASE_MS: '5',
      PROVIDER_RETRY_MAX_MS: '20',
      LOG_LEVEL: 'error',
      ...options.env,
    });
    this.nodes = new LocalNodeProvider({ stateDir: this.stateDir, bootDelayMs: this.config.LOCAL_BOOT_DELAY_MS });
    this.pods = new LocalPodRuntime({ stateDir: this.stateDir, graceMs: 500, ownerPollMs: 100 });
    const faulty = (nodes: LocalNodeProvider, pods: LocalPodRuntime): Providers => ({
      nodes: new FaultInjectingNodeProvider(nodes, this.faults),
      pods: new FaultInjectingPodRuntime(pods, this.faults),
    });
    // Variants on the same machine (state dir), chosen per deployment like `aws` would be.
    this.registry = new ProviderRegistry(
      {
        local: faulty(this.nodes, this.pods),
        slowboot: faulty(new LocalNodeProvider({ stateDir: this.stateDir, bootDelayMs: SLOW_BOOT_MS }), this.pods),
        neverready: faulty(this.nodes, new LocalPodRuntime({ stateDir: this.stateDir, simulatorCommand: NEVER_READY, graceMs: 500, ownerPollMs: 100 })),
        crashing: faulty(this.nodes, new LocalPodRuntime({ stateDir: this.stateDir, simulatorCommand: CRASHING, graceMs: 500, ownerPollMs: 100 })),
      },
      'local',
    );
    this.nc = await connect({ servers: this.config.NATS_URL });
    this.store = await JetStreamEventStore.create(this.nc, { streamName: this.config.EVENTS_STREAM, subjectPrefix: this.config.EVENTS_SUBJECT_PREFIX });
    this.handler = new DeploymentCommandHandler(this.store);
    const topology = { streamName: this.config.COMMANDS_STREAM, subjectPrefix: this.config.COMMANDS_SUBJECT_PREFIX };
    await JetStreamCommandBus.ensureTopology(this.nc, topology);
    this.bus = new JetStreamCommandBus(this.nc, topology);
    this.scheduler = await JetStreamCommandScheduler.create(this.nc, topology);
    this.dispatcher = new Dispatcher(this.bus, this.scheduler, new SystemClock());
    for (const service of options.services ?? (['launcher', 'terminator', 'error-handler'] as const)) await this.startService(service);
  }

  async startService(service: WorkOwner): Promise<INestMicroservice> {
    const app = await NestFactory.createMicroservice(ServiceModule.forRoot(this.config, service, this.registry), {
      ...commandMicroserviceOptions({ fetchExpiresMs: 1_000, shutdownTimeoutMs: 2_000 }),
      logger: ['error'],
    });
    await app.listen();
    this.apps.push(app);
    return app;
  }

  async exec<T extends SimDeploymentCommand['type']>(
    id: string,
    type: T,
    data: Extract<SimDeploymentCommand, { type: T }>['data'],
    by: Actor = USER,
  ): Promise<SimDeployment> {
    const result = await this.handler.handle(id, command(type, data as never, { now: new Date().toISOString(), by }));
    if (result instanceof DomainError) throw result;
    if (result.state === null) throw new Error(`${type} left no deployment`);
    return result.state;
  }

  /** As the gateway does: append, then dispatch what the new state calls for (unless told to lose it). */
  async execAndDispatch<T extends SimDeploymentCommand['type']>(
    id: string,
    type: T,
    data: Extract<SimDeploymentCommand, { type: T }>['data'],
    by: Actor = USER,
    send = true,
  ): Promise<SimDeployment> {
    const result = await this.handler.handle(id, command(type, data as never, { now: new Date().toISOString(), by }));
    if (result instanceof DomainError) throw result;
    if (result.state === null) throw new Error(`${type} left no deployment`);
    if (send) await this.dispatcher.dispatch(result.state, result.revision, { reason: 'api', before: result.before });
    return result.state;
  }

  /** POST /simulations. */
  async launch(options: { id?: string; provider?: TestProvider; spec?: Partial<SimulationSpec>; send?: boolean } = {}): Promise<string> {
    const id = options.id ?? randomUUID();
    const request = { deploymentId: id, owner: USER.subject, spec: { ...SPEC, ...options.spec }, provider: options.provider ?? 'local' };
    await this.execAndDispatch(id, 'RequestLaunch', request, USER, options.send !== false);
    return id;
  }

  /** POST /simulations/:id/stop. */
  async stop(id: string): Promise<void> {
    await this.execAndDispatch(id, 'RequestStop', { reason: 'user' });
  }

  async state(id: string): Promise<SimDeployment> {
    const { state } = await this.handler.load(id);
    if (!state) throw new Error(`no deployment ${id}`);
    return state;
  }

  async until(id: string, predicate: (s: SimDeployment) => boolean, description: string, timeoutMs = 15_000): Promise<SimDeployment> {
    return waitFor(async () => {
      const s = await this.state(id);
      return predicate(s) ? s : null;
    }, { timeoutMs, description: `${id}: ${description}` });
  }

  async eventTypes(id: string): Promise<string[]> {
    return (await this.store.readStream(id)).events.map((e) => e.type);
  }

  /** What the real providers hold for a deployment: instances, workload pods, pod processes alive. */
  async held(id: string): Promise<{ instances: string[]; pods: string[] }> {
    const instances = (await this.nodes.listManagedInstances()).filter((i) => i.deploymentId === id).map((i) => i.instanceId);
    const pods = (await this.pods.listManagedWorkloads()).filter((w) => w.deploymentId === id).flatMap((w) => w.pods);
    return { instances, pods };
  }

  /** Process ids of the deployment's pods, from the local runtime's records. */
  async podPids(id: string): Promise<number[]> {
    const dir = join(this.stateDir, 'workloads', id, 'pods');
    const files = await fs.readdir(dir).catch(() => [] as string[]);
    const pids: number[] = [];
    for (const file of files.filter((f) => f.endsWith('.json'))) {
      const record = JSON.parse(await fs.readFile(join(dir, file), 'utf8').catch(() => '{}')) as { pid?: unknown };
      if (typeof record.pid === 'number') pids.push(record.pid);
    }
    return pids;
  }

  async close(): Promise<void> {
    await Promise.allSettled(this.apps.map((app) => app.close()));
    await releaseAndKillAll(this.stateDir, 500);
    const jsm = await jetstreamManager(this.nc);
    await jsm.streams.delete(this.config.EVENTS_STREAM).catch(() => undefined);
    await jsm.streams.delete(this.config.COMMANDS_STREAM).catch(() => undefined);
    await jsm.streams.delete(this.scheduler.topology.streamName).catch(() => undefined);
    await this.nc.close();
    await fs.rm(this.stateDir, { recursive: true, force: true });
  }
}

export const isAlive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};
