import { DynamicModule, Module } from '@nestjs/common';
import { LocalNodeProvider, LocalPodRuntime } from '@simdeploy/cloud';
import { WorkerConfig, awsEnabled } from '@simdeploy/config';
import { WorkOwner } from '@simdeploy/domain';
import { DeploymentCommandHandler } from '@simdeploy/event-store';
import { CommandBus } from '@simdeploy/messaging';
import { CleanupWorkflow } from '../cleanup.workflow';
import { LaunchWorkflow } from '../launch.workflow';
import { ProviderRegistry, Providers } from '../providers';
import { Clock, LifecycleSettings, serviceActor } from '../settings';
import { DeploymentSteps } from '../steps';
import { CoreModule } from './core.module';
import { AwsClients, WorkerProviderRegistry, awsProviders } from './providers.factory';

export const settingsFrom = (config: WorkerConfig): LifecycleSettings => ({
  nodeReadyTimeoutMs: config.NODE_READY_TIMEOUT_S * 1000,
  podReadyTimeoutMs: config.POD_READY_TIMEOUT_S * 1000,
  deletionTimeoutMs: config.POD_READY_TIMEOUT_S * 1000,
  pollIntervalMs: config.READINESS_POLL_MS,
  retry: {
    maxAttempts: config.PROVIDER_MAX_ATTEMPTS,
    baseDelayMs: config.PROVIDER_RETRY_BASE_MS,
    maxDelayMs: config.PROVIDER_RETRY_MAX_MS,
    // A provider call that has not answered by the time the command would be redelivered is
    // abandoned; never sooner than 10 s, so a slow machine is not mistaken for a hung call.
    callTimeoutMs: Math.max(10_000, config.ACK_WAIT_MS),
  },
});

export function localProviders(config: WorkerConfig): Providers {
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
export function createProviderRegistry(config: WorkerConfig, options: AwsClients & { service?: string } = {}): ProviderRegistry {
  const providers: Record<string, Providers> = { local: localProviders(config) };
  if (awsEnabled(config)) providers['aws'] = awsProviders(config, options);
  return new WorkerProviderRegistry(providers, config.PROVIDER, options.service ?? 'this worker');
}

/** Wiring shared by the launcher, the terminator and the error handler. */
@Module({})
export class WorkerModule {
  static forRoot(config: WorkerConfig, service: WorkOwner, registry = createProviderRegistry(config)): DynamicModule {
    return {
      module: WorkerModule,
      imports: [CoreModule.forRoot(config, service, { ackWaitMs: config.ACK_WAIT_MS, poolSize: config.POOL_SIZE })],
      providers: [
        { provide: ProviderRegistry, useValue: registry },
        { provide: LifecycleSettings, useValue: settingsFrom(config) },
        {
          provide: DeploymentSteps,
          inject: [DeploymentCommandHandler, CommandBus, Clock],
          useFactory: (handler: DeploymentCommandHandler, bus: CommandBus, clock: Clock) =>
            new DeploymentSteps(handler, bus, clock, serviceActor(service)),
        },
        service === 'launcher'
          ? {
              provide: LaunchWorkflow,
              inject: [DeploymentSteps, ProviderRegistry, LifecycleSettings],
              useFactory: (steps: DeploymentSteps, providers: ProviderRegistry, settings: LifecycleSettings) =>
                new LaunchWorkflow(steps, providers, settings),
            }
          : {
              provide: CleanupWorkflow,
              inject: [DeploymentSteps, ProviderRegistry, LifecycleSettings],
              useFactory: (steps: DeploymentSteps, providers: ProviderRegistry, settings: LifecycleSettings) =>
                new CleanupWorkflow(service, steps, providers, settings),
            },
      ],
      exports: [service === 'launcher' ? LaunchWorkflow : CleanupWorkflow, ProviderRegistry, DeploymentSteps],
    };
  }
}
