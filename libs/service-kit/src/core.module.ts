import { DynamicModule, Inject, Logger, Module, OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { CommonConfig } from '@simdeploy/config';
import { EventStore, openEventStore } from '@simdeploy/event-store';
import { CommandBus, CommandScheduler, JetStreamCommandScheduler, MessagingModule, NATS_CONNECTION } from '@simdeploy/messaging';
import { AdmissionLedgers, Clock, DeploymentCommandHandler, Dispatcher, SystemClock, admissionSettingsFrom } from '@simdeploy/workflows';

/** The configuration a service was started with, injectable by this token. */
export const SERVICE_CONFIG = Symbol('SERVICE_CONFIG');

/**
 * What every service needs: the NATS connection, command bus and timers, the event store the
 * configuration names, the command handler over it, the dispatcher, and the clock.
 */
@Module({})
export class CoreModule implements OnApplicationShutdown {
  private readonly logger = new Logger(CoreModule.name);

  constructor(@Inject(EventStore) private readonly store: EventStore) {}

  static forRoot(config: CommonConfig, service: string, options: { ackWaitMs?: number; poolSize?: number } = {}): DynamicModule {
    const topology = { streamName: config.COMMANDS_STREAM, subjectPrefix: config.COMMANDS_SUBJECT_PREFIX };
    return {
      module: CoreModule,
      global: true,
      imports: [MessagingModule.forRoot({ natsUrl: config.NATS_URL, ...topology, connectionName: service, ...options })],
      providers: [
        { provide: SERVICE_CONFIG, useValue: config },
        { provide: EventStore, inject: [NATS_CONNECTION], useFactory: (nc: NatsConnection) => openEventStore(config, nc) },
        { provide: DeploymentCommandHandler, inject: [EventStore], useFactory: (store: EventStore) => new DeploymentCommandHandler(store) },
        { provide: Clock, useClass: SystemClock },
        {
          provide: CommandScheduler,
          inject: [NATS_CONNECTION],
          useFactory: (nc: NatsConnection) => JetStreamCommandScheduler.create(nc, topology),
        },
        {
          provide: Dispatcher,
          inject: [CommandBus, CommandScheduler, Clock],
          useFactory: (bus: CommandBus, scheduler: CommandScheduler, clock: Clock) => new Dispatcher(bus, scheduler, clock),
        },
        {
          provide: AdmissionLedgers,
          inject: [EventStore, Clock, Dispatcher],
          useFactory: (store: EventStore, clock: Clock, dispatcher: Dispatcher) =>
            new AdmissionLedgers(store, admissionSettingsFrom(config), clock, (ids, ledger, revision) => dispatcher.wakeAdmitted(ids, ledger, revision)),
        },
      ],
      exports: [SERVICE_CONFIG, EventStore, DeploymentCommandHandler, Clock, Dispatcher, CommandScheduler, AdmissionLedgers],
    };
  }

  async onApplicationShutdown(): Promise<void> {
    await this.store.close().catch((error: unknown) => this.logger.warn(`closing the event store: ${String(error)}`));
  }
}
