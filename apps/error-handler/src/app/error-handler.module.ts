import { BeforeApplicationShutdown, DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { DeploymentCommandHandler, EventStore } from '@simdeploy/event-store';
import {
  Clock,
  FailureController,
  DeploymentsReadModel,
  PeriodicJob,
  PeriodicJobRunner,
  ProviderRegistry,
  Reconciler,
  WorkerModule,
  createOrphanSweeper,
  sweeperOptionsFrom,
} from '@simdeploy/lifecycle';
import { CommandBus } from '@simdeploy/messaging';
import { ErrorHandlerConfig } from './error-handler.config';

/** The periodic jobs of the active error handler: the reconciler and the orphan sweep. */
export const LEADER_JOBS = Symbol('LEADER_JOBS');

/** Runs the leader's periodic jobs for as long as this app lives, which is as long as it leads. */
@Injectable()
export class LeaderJobs implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly runner: PeriodicJobRunner;

  constructor(
    private readonly readModel: DeploymentsReadModel,
    @Inject(LEADER_JOBS) jobs: PeriodicJob[],
  ) {
    this.runner = new PeriodicJobRunner(jobs);
  }

  onApplicationBootstrap(): void {
    this.readModel.start();
    this.runner.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.runner.stop();
    await this.readModel.stop();
  }
}

@Module({})
export class ErrorHandlerModule {
  static forRoot(config: ErrorHandlerConfig, registry?: ProviderRegistry): DynamicModule {
    return {
      module: ErrorHandlerModule,
      imports: [WorkerModule.forRoot(config, 'error-handler', registry)],
      controllers: [FailureController],
      providers: [
        { provide: DeploymentsReadModel, inject: [EventStore], useFactory: (store: EventStore) => new DeploymentsReadModel(store) },
        {
          provide: Reconciler,
          inject: [DeploymentsReadModel, DeploymentCommandHandler, CommandBus, Clock],
          useFactory: (readModel: DeploymentsReadModel, handler: DeploymentCommandHandler, bus: CommandBus, clock: Clock) =>
            new Reconciler(readModel, handler, bus, clock, { intervalMs: config.RECONCILE_INTERVAL_MS, graceMs: config.RECONCILE_GRACE_MS }),
        },
        {
          provide: LEADER_JOBS,
          inject: [Reconciler, ProviderRegistry, DeploymentCommandHandler, EventStore, Clock],
          useFactory: (
            reconciler: Reconciler,
            providers: ProviderRegistry,
            handler: DeploymentCommandHandler,
            store: EventStore,
            clock: Clock,
          ): PeriodicJob[] => {
            const sweeper = createOrphanSweeper({ registry: providers, handler, store, clock }, sweeperOptionsFrom(config));
            const sweep: PeriodicJob = { name: 'orphan-sweep', intervalMs: config.SWEEP_INTERVAL_S * 1000, runOnce: () => sweeper.sweepOnce() };
            return [reconciler, sweep];
          },
        },
        LeaderJobs,
      ],
    };
  }
}
