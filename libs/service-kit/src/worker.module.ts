import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationBootstrap, OnApplicationShutdown, type Provider } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import { LocalNodeProvider, LocalPodRuntime, createSimulatedProviders } from '@simdeploy/cloud';
import { ProviderConfig, WorkerConfig, awsEnabled, simulatedEnabled } from '@simdeploy/config';
import type { WorkOwner } from '@simdeploy/domain';
import { CommandBus, CommandScheduler, JetStreamCommandScheduler, LeaderLease, NATS_CONNECTION } from '@simdeploy/messaging';
import {
  AdmissionLedgers,
  Clock,
  DeploymentCommandHandler,
  Dispatcher,
  Interpreter,
  KIND_OF,
  LifecycleSettings,
  ProviderRegistry,
  TimerDuty,
  type Providers,
} from '@simdeploy/workflows';
import { CoreModule, SERVICE_CONFIG } from './core.module';
import { WorkerHealth } from './observability/worker-health';
import { AwsClients, WorkerProviderRegistry, awsProviders, createLogArchive } from './providers.factory';

export const settingsFrom = (config: WorkerConfig): LifecycleSettings => ({
  nodeReadyTimeoutMs: config.NODE_READY_TIMEOUT_S * 1000,
  podReadyTimeoutMs: config.POD_READY_TIMEOUT_S * 1000,
  deletionTimeoutMs: config.POD_READY_TIMEOUT_S * 1000,
  pollIntervalMs: config.READINESS_POLL_MS,
  healthPollMs: config.HEALTH_POLL_MS,
  healthRecheckMs: config.HEALTH_RECHECK_S * 1000,
  queueRecheckMs: config.QUEUE_RECHECK_S * 1000,
  capacityRetryMs: config.CAPACITY_RETRY_S * 1000,
  retry: {
    maxAttempts: config.PROVIDER_MAX_ATTEMPTS,
    baseDelayMs: config.PROVIDER_RETRY_BASE_MS,
    maxDelayMs: config.PROVIDER_RETRY_MAX_MS,
    // A provider call that has not answered by the time the command would be redelivered is
    // abandoned; never sooner than 10 s, so a slow machine is not mistaken for a hung call.
    callTimeoutMs: Math.max(10_000, config.ACK_WAIT_MS),
  },
});

export function localProviders(config: ProviderConfig): Providers {
  return {
    nodes: new LocalNodeProvider({ slots: config.LOCAL_SLOTS, bootDelayMs: config.LOCAL_BOOT_DELAY_MS, stateDir: config.LOCAL_STATE_DIR }),
    pods: new LocalPodRuntime({ stateDir: config.LOCAL_STATE_DIR, simulatorCommand: config.SIMULATOR_COMMAND }),
  };
}

/**
 * The providers this service can use: `local` always, `aws` when PROVIDER=aws or
 * ENABLE_AWS=true. `PROVIDER` is the default for new deployments. A deployment naming a
 * provider that is not configured here fails its step permanently, naming what to set.
 */
export function createProviderRegistry(config: ProviderConfig, options: AwsClients & { service?: string } = {}): ProviderRegistry {
  const providers: Record<string, Providers> = { local: localProviders(config) };
  if (awsEnabled(config)) providers['aws'] = awsProviders(config, options);
  return new WorkerProviderRegistry(providers, config.PROVIDER, options.service ?? 'this worker', createLogArchive(config, options));
}

/** The registry, plus `simulated` when PROVIDER=simulated or ENABLE_SIMULATED=true (its records live in NATS). */
async function createWorkerProviders(config: ProviderConfig, nc: NatsConnection, service: string): Promise<{ registry: ProviderRegistry; close: () => void }> {
  if (!simulatedEnabled(config)) return { registry: createProviderRegistry(config, { service }), close: () => undefined };
  const simulated = await createSimulatedProviders(nc, {
    bucket: config.SIMULATED_BUCKET,
    bootDelay: config.SIMULATED_BOOT_MS,
    readyDelay: config.SIMULATED_READY_MS,
    faults: config.SIMULATED_FAULTS,
    seed: config.SIMULATED_SEED,
    ...(config.SIMULATED_CAPACITY === undefined ? {} : { capacity: config.SIMULATED_CAPACITY }),
  });
  const providers: Record<string, Providers> = { local: localProviders(config), simulated: { nodes: simulated.nodes, pods: simulated.pods } };
  if (awsEnabled(config)) providers['aws'] = awsProviders(config);
  return {
    registry: new WorkerProviderRegistry(providers, config.PROVIDER, service, createLogArchive(config)),
    close: simulated.close,
  };
}

const PROVIDERS_HANDLE = Symbol('PROVIDERS_HANDLE');

/** Closes what the providers hold open (the simulated provider's bucket watch) when the service stops. */
@Injectable()
class ProvidersShutdown implements OnApplicationShutdown {
  constructor(@Inject(PROVIDERS_HANDLE) private readonly handle: { close: () => void }) {}

  onApplicationShutdown(): void {
    this.handle.close();
  }
}

/**
 * The ProviderRegistry as Nest providers, built from the configuration (or the one given, in
 * tests) and closed with the app: the workers run simulations through it, the gateway finds
 * their simulators and logs through it.
 */
export function providerRegistryProviders(config: ProviderConfig, service: string, registry?: ProviderRegistry): Provider[] {
  return [
    {
      provide: PROVIDERS_HANDLE,
      inject: [NATS_CONNECTION],
      useFactory: (nc: NatsConnection) => (registry ? { registry, close: () => undefined } : createWorkerProviders(config, nc, service)),
    },
    { provide: ProviderRegistry, inject: [PROVIDERS_HANDLE], useFactory: (handle: { registry: ProviderRegistry }) => handle.registry },
    ProvidersShutdown,
  ];
}

export const WORKER_OWNER = Symbol('WORKER_OWNER');

/**
 * One replica of the service fires its kind's timers (and, for the launcher, watches
 * readiness in batch): the holder of the `timers-<kind>` lease. Another replica takes over
 * when it dies, loading the timers from the stream.
 */
@Injectable()
export class TimerLeadership implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(TimerLeadership.name);
  private lease?: LeaderLease;

  constructor(
    private readonly duty: TimerDuty,
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    @Inject(SERVICE_CONFIG) private readonly config: WorkerConfig,
    @Inject(WORKER_OWNER) private readonly owner: WorkOwner,
  ) {}

  async onApplicationBootstrap(): Promise<void> {
    this.lease = await LeaderLease.create(this.nc, {
      key: `timers-${KIND_OF[this.owner]}`,
      bucket: this.config.LEADER_LEASE_BUCKET,
      ttlMs: this.config.LEADER_LEASE_TTL_MS,
    });
    this.lease.start({
      acquired: () => {
        this.logger.log(`${this.lease?.holder} fires the ${KIND_OF[this.owner]} timers`);
        this.duty.start();
      },
      lost: () => this.duty.stop(),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.lease?.stop();
    await this.duty.stop();
  }
}

export interface WorkerModuleOptions {
  /** Fire the kind's timers under a lease (default). The error handler fires its own while it leads. */
  timerLeadership?: boolean;
  /** Open METRICS_PORT with the app (default). The error handler opens it for standbys too, outside the app. */
  healthServer?: boolean;
}

/** Wiring shared by the launcher, the terminator and the error handler. */
@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig, service: WorkOwner, registry?: ProviderRegistry, options: WorkerModuleOptions = {}): DynamicModule {
    const settings = settingsFrom(config);
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot(config, service, { ackWaitMs: config.ACK_WAIT_MS, poolSize: config.POOL_SIZE })],
      providers: [
        ...providerRegistryProviders(config, service, registry),
        { provide: LifecycleSettings, useValue: settings },
        { provide: WORKER_OWNER, useValue: service },
        {
          provide: Interpreter,
          inject: [DeploymentCommandHandler, ProviderRegistry, Clock, Dispatcher, CommandScheduler, AdmissionLedgers],
          useFactory: (
            handler: DeploymentCommandHandler,
            providers: ProviderRegistry,
            clock: Clock,
            dispatcher: Dispatcher,
            scheduler: CommandScheduler,
            ledgers: AdmissionLedgers,
          ) => new Interpreter(service, handler, providers, settings, clock, dispatcher, scheduler, ledgers),
        },
        {
          provide: TimerDuty,
          inject: [CommandScheduler, CommandBus, Clock, ProviderRegistry],
          useFactory: (scheduler: JetStreamCommandScheduler, bus: CommandBus, clock: Clock, providers: ProviderRegistry) =>
            new TimerDuty(KIND_OF[service], scheduler, bus, clock, service === 'launcher' ? { registry: providers, settings } : undefined),
        },
        ...((options.timerLeadership ?? true) ? [TimerLeadership] : []),
        ...((options.healthServer ?? true) ? [WorkerHealth] : []),
      ],
      exports: [Interpreter, ProviderRegistry, TimerDuty, LifecycleSettings],
    };
  }
}
