import { BeforeApplicationShutdown, DynamicModule, Inject, Injectable, Module, OnApplicationBootstrap } from '@nestjs/common';
import { CommandBus, CommandScheduler } from '@simdeploy/messaging';
import { ReadModel } from '@simdeploy/read-model';
import { FailureController, ReadSideModule, WorkerModule } from '@simdeploy/service-kit';
import {
  Clock,
  DeploymentCommandHandler,
  Dispatcher,
  PeriodicJob,
  PeriodicJobRunner,
  ProviderRegistry,
  Reconciler,
  TimerDuty,
  createOrphanSweeper,
  sweeperOptionsFrom,
} from '@simdeploy/workflows';
import { ErrorHandlerConfig } from './error-handler.config';

/** The periodic jobs of the active error handler: the reconciler and the orphan sweep. */
export const LEADER_JOBS = Symbol('LEADER_JOBS');

/**
 * Runs the leader's duties for as long as this app lives, which is as long as it leads: the
 * periodic jobs, and the error handler's own timers.
 */
@Injectable()
export class LeaderJobs implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private readonly runner: PeriodicJobRunner;

  constructor(
    private readonly timers: TimerDuty,
    @Inject(LEADER_JOBS) jobs: PeriodicJob[],
  ) {
    this.runner = new PeriodicJobRunner(jobs);
  }

  onApplicationBootstrap(): void {
    this.timers.start();
    this.runner.start();
  }

  async beforeApplicationShutdown(): Promise<void> {
    await this.runner.stop();
    await this.timers.stop();
  }
}

@Module({})
export class ErrorHandlerModule {
  static forRoot(config: ErrorHandlerConfig, registry?: ProviderRegistry): DynamicModule {
    return {
      module: ErrorHandlerModule,
      // Only the leader runs this module: its timers need no lease of their own.
      imports: [
        WorkerModule.forRoot(config, 'error-handler', registry, { timerLeadership: false, healthServer: false }),
        // Read only: the gateway projects (on SQLite this process opens the same file beside it).
        ReadSideModule.forRoot(config, { readOnly: true }),
      ],
      controllers: [FailureController],
      providers: [
        {
          provide: Reconciler,
          inject: [ReadModel, DeploymentCommandHandler, Dispatcher, CommandBus, CommandScheduler, Clock],
          useFactory: (
            readModel: ReadModel,
            handler: DeploymentCommandHandler,
            dispatcher: Dispatcher,
            bus: CommandBus,
            scheduler: CommandScheduler,
            clock: Clock,
          ) =>
            new Reconciler(
              () => readModel.active(),
              handler,
              dispatcher,
              bus,
              scheduler,
              clock,
              { intervalMs: config.RECONCILE_INTERVAL_MS, graceMs: config.RECONCILE_GRACE_MS },
            ),
        },
        {
          provide: LEADER_JOBS,
          inject: [Reconciler, ProviderRegistry, DeploymentCommandHandler, Clock],
          useFactory: (reconciler: Reconciler, providers: ProviderRegistry, handler: DeploymentCommandHandler, clock: Clock): PeriodicJob[] => {
            const sweeper = createOrphanSweeper({ registry: providers, handler, clock }, sweeperOptionsFrom(config));
            const sweep: PeriodicJob = { name: 'orphan-sweep', intervalMs: config.SWEEP_INTERVAL_S * 1000, runOnce: () => sweeper.sweepOnce() };
            return [reconciler, sweep];
          },
        },
        LeaderJobs,
      ],
    };
  }
}
