import { Inject, Module, type DynamicModule, type OnApplicationShutdown } from '@nestjs/common';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import type { AsyncMicroserviceOptions } from '@nestjs/microservices';
import { CommandBus, JetStreamCommandBus } from './command-bus';
import { createCommandServer, type JetStreamCommandServerOptions } from './jetstream-command.server';
import type { CommandTopologyOptions } from './topology';

export interface MessagingModuleOptions extends CommandTopologyOptions {
  natsUrl: string;
  /** Handler slots per replica, for the command server the app creates. Default 10. */
  poolSize?: number;
  /** Shown by the NATS server in its connection list. */
  connectionName?: string;
}

/** The app's NATS connection, shared by the command bus and the command server. */
export const NATS_CONNECTION = Symbol('NATS_CONNECTION');
export const MESSAGING_OPTIONS = Symbol('MESSAGING_OPTIONS');

@Module({})
export class MessagingModule implements OnApplicationShutdown {
  constructor(@Inject(NATS_CONNECTION) private readonly nc: NatsConnection) {}

  static forRoot(options: MessagingModuleOptions): DynamicModule {
    return {
      module: MessagingModule,
      global: true,
      providers: [
        { provide: MESSAGING_OPTIONS, useValue: options },
        {
          provide: NATS_CONNECTION,
          // Reconnect forever, and wait for the first connection too: neither a NATS restart nor
          // a service started while NATS restarts takes the service down.
          useFactory: () =>
            connect({ servers: options.natsUrl, name: options.connectionName, maxReconnectAttempts: -1, waitOnFirstConnect: true }),
        },
        {
          provide: CommandBus,
          inject: [NATS_CONNECTION],
          useFactory: async (nc: NatsConnection) => {
            await JetStreamCommandBus.ensureTopology(nc, options);
            return new JetStreamCommandBus(nc, options);
          },
        },
      ],
      exports: [CommandBus, NATS_CONNECTION, MESSAGING_OPTIONS],
    };
  }

  // Shutdown hooks run after Nest closed the microservices, so running handlers could still ack.
  async onApplicationShutdown(): Promise<void> {
    if (!this.nc.isClosed()) await this.nc.drain();
  }
}

/**
 * Options for `NestFactory.createMicroservice(AppModule, commandMicroserviceOptions())`
 * in an app that imports MessagingModule.forRoot: the command server reuses the
 * module's connection and settings.
 */
export const commandMicroserviceOptions = (
  overrides: Partial<JetStreamCommandServerOptions> = {},
): AsyncMicroserviceOptions => ({
  inject: [NATS_CONNECTION, MESSAGING_OPTIONS],
  useFactory: (connection: NatsConnection, options: MessagingModuleOptions) => ({
    strategy: createCommandServer({ ...options, ...overrides, connection }),
  }),
});
