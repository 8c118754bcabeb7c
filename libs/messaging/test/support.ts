import 'reflect-metadata';
import { Controller, Inject, Module, type DynamicModule, type INestMicroservice } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { Ctx, Payload } from '@nestjs/microservices';
import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { uniqueName } from '@simdeploy/testing';
import {
  CommandKind,
  JetStreamCommandBus,
  OnCommand,
  createCommandServer,
  type CommandOutcome,
  type CommandTopologyOptions,
  type DeploymentCommandMessage,
  type JetStreamCommandServerOptions,
  type JetStreamContext,
} from '../src';

export type CommandBehaviour = (msg: DeploymentCommandMessage, ctx: JetStreamContext) => CommandOutcome | Promise<CommandOutcome>;

export const LAUNCH_BEHAVIOUR = Symbol('LAUNCH_BEHAVIOUR');
export const TERMINATE_BEHAVIOUR = Symbol('TERMINATE_BEHAVIOUR');

@Controller()
export class LaunchController {
  constructor(@Inject(LAUNCH_BEHAVIOUR) private readonly behaviour: CommandBehaviour) {}

  @OnCommand(CommandKind.Launch)
  launch(@Payload() msg: DeploymentCommandMessage, @Ctx() ctx: JetStreamContext): CommandOutcome | Promise<CommandOutcome> {
    return this.behaviour(msg, ctx);
  }
}

@Controller()
export class TerminateController {
  constructor(@Inject(TERMINATE_BEHAVIOUR) private readonly behaviour: CommandBehaviour) {}

  @OnCommand(CommandKind.Terminate)
  terminate(@Payload() msg: DeploymentCommandMessage, @Ctx() ctx: JetStreamContext): CommandOutcome | Promise<CommandOutcome> {
    return this.behaviour(msg, ctx);
  }
}

export interface WorkerHandlers {
  launch?: CommandBehaviour;
  terminate?: CommandBehaviour;
}

@Module({})
export class WorkerModule {
  static with(handlers: WorkerHandlers, imports: DynamicModule[] = []): DynamicModule {
    return {
      module: WorkerModule,
      imports,
      controllers: [...(handlers.launch ? [LaunchController] : []), ...(handlers.terminate ? [TerminateController] : [])],
      providers: [
        ...(handlers.launch ? [{ provide: LAUNCH_BEHAVIOUR, useValue: handlers.launch }] : []),
        ...(handlers.terminate ? [{ provide: TERMINATE_BEHAVIOUR, useValue: handlers.terminate }] : []),
      ],
    };
  }
}

export const launchCommand = (deploymentId: string, extra: Partial<DeploymentCommandMessage> = {}): DeploymentCommandMessage => ({
  deploymentId,
  kind: CommandKind.Launch,
  issuedAt: new Date().toISOString(),
  reason: 'api',
  ...extra,
});

/** A handler that blocks until the test opens it. */
export class Gate {
  private opened = false;
  private readonly waiting: Array<() => void> = [];

  wait(): Promise<void> {
    return this.opened ? Promise.resolve() : new Promise((resolve) => this.waiting.push(resolve));
  }

  open(): void {
    this.opened = true;
    for (const resolve of this.waiting.splice(0)) resolve();
  }
}

/** Counts handlers running right now in one replica, and the most ever seen. */
export class Concurrency {
  running = 0;
  peak = 0;
  completed = 0;

  async around<T>(work: () => Promise<T>): Promise<T> {
    this.running += 1;
    this.peak = Math.max(this.peak, this.running);
    try {
      return await work();
    } finally {
      this.running -= 1;
      this.completed += 1;
    }
  }
}

/**
 * A private command stream on the test server: unique stream name and subject
 * prefix, its own connection, and the apps started on it; dispose() removes it all.
 */
export class CommandTestBed {
  readonly topology: Required<Pick<CommandTopologyOptions, 'streamName' | 'subjectPrefix'>> & CommandTopologyOptions;
  readonly bus: JetStreamCommandBus;
  private readonly apps: INestMicroservice[] = [];

  private constructor(
    readonly nc: NatsConnection,
    readonly jsm: JetStreamManager,
    topology: CommandTopologyOptions,
    private readonly ownsConnection: boolean,
  ) {
    const streamName = uniqueName('CMD');
    this.topology = { streamName, subjectPrefix: `test.${streamName}`, ...topology };
    this.bus = new JetStreamCommandBus(nc, this.topology);
  }

  static async create(topology: CommandTopologyOptions = {}, connection?: NatsConnection): Promise<CommandTestBed> {
    const nc = connection ?? (await connect({ servers: natsUrl() }));
    const bed = new CommandTestBed(nc, await jetstreamManager(nc), topology, !connection);
    await JetStreamCommandBus.ensureTopology(nc, bed.topology);
    return bed;
  }

  /** Starts a NestJS microservice replica handling launch commands with `behaviour`. */
  startReplica(behaviour: CommandBehaviour, options: Partial<JetStreamCommandServerOptions> = {}): Promise<INestMicroservice> {
    return this.startWorker({ launch: behaviour }, options);
  }

  async startWorker(handlers: WorkerHandlers, options: Partial<JetStreamCommandServerOptions> = {}): Promise<INestMicroservice> {
    const strategy = createCommandServer({ connection: this.nc, ...this.topology, ...options });
    const app = await NestFactory.createMicroservice(WorkerModule.with(handlers), { strategy, logger: false });
    this.apps.push(app);
    await app.listen();
    return app;
  }

  track(app: INestMicroservice): INestMicroservice {
    this.apps.push(app);
    return app;
  }

  async storedCommands(): Promise<number> {
    return (await this.jsm.streams.info(this.topology.streamName)).state.messages;
  }

  launchConsumer() {
    return this.jsm.consumers.info(this.topology.streamName, this.topology.consumerNames?.launch ?? CommandKind.Launch);
  }

  async dispose(): Promise<void> {
    await Promise.allSettled(this.apps.map((app) => app.close()));
    if (!this.nc.isClosed()) {
      await this.jsm.streams.delete(this.topology.streamName).catch(() => undefined);
      if (this.ownsConnection) await this.nc.close();
    }
  }
}

export function natsUrl(): string {
  const url = process.env['NATS_URL'];
  if (!url) throw new Error('NATS_URL is not set: the Jest global setup should have set it');
  return url;
}
