import { DynamicModule, Inject, Injectable, Logger, Module, OnApplicationShutdown, OnModuleInit, Optional } from '@nestjs/common';
import { CommonConfig } from '@simdeploy/config';
import { EventStore } from '@simdeploy/event-store';
import { ProjectionFreshness, Projector, ReadModel, openReadModel } from '@simdeploy/read-model';

export interface ReadSideOptions {
  /** Queries only (the error handler): no migration, no projector. */
  readOnly?: boolean;
  /** Run a projector here (it projects while it holds the read model's projector lock). */
  project?: boolean;
  batchSize?: number;
}

/** Starts the projector and the freshness watch once everything is wired, and stops them first at shutdown. */
@Injectable()
export class ReadSideLifecycle implements OnModuleInit, OnApplicationShutdown {
  constructor(
    private readonly readModel: ReadModel,
    @Optional() @Inject(ProjectionFreshness) private readonly freshness?: ProjectionFreshness,
    @Optional() @Inject(Projector) private readonly projector?: Projector,
  ) {}

  onModuleInit(): void {
    this.projector?.start();
    this.freshness?.start();
  }

  async onApplicationShutdown(): Promise<void> {
    this.freshness?.stop();
    await this.projector?.stop();
    await this.readModel.close();
  }
}

/**
 * The read model a service queries, opened from READ_MODEL_URL and migrated at start unless
 * read-only; with `project`, the projector that fills it; unless read-only, the freshness that
 * readiness and read-your-writes ask.
 */
@Module({})
export class ReadSideModule {
  static forRoot(config: CommonConfig, options: ReadSideOptions = {}): DynamicModule {
    const logger = new Logger('ReadModel');
    const project = options.project === true && !options.readOnly;
    let lastWarning = 0;
    // The store or the database away is reported, not once per poll.
    const warnNow = (error: unknown) => {
      if (Date.now() - lastWarning < 10_000) return;
      lastWarning = Date.now();
      logger.warn(`checking the projection: ${error instanceof Error ? error.message : String(error)}`);
    };
    return {
      module: ReadSideModule,
      global: true,
      providers: [
        {
          provide: ReadModel,
          useFactory: async () => {
            const readModel = await openReadModel(config.READ_MODEL_URL, { readOnly: options.readOnly });
            if (!options.readOnly) await readModel.migrate();
            return readModel;
          },
        },
        ...(project
          ? [
              {
                provide: Projector,
                inject: [EventStore, ReadModel],
                useFactory: (store: EventStore, readModel: ReadModel) =>
                  new Projector(store, readModel, { batchSize: options.batchSize, logger }),
              },
            ]
          : []),
        ...(options.readOnly
          ? []
          : [
              {
                provide: ProjectionFreshness,
                inject: [EventStore, ReadModel, { token: Projector, optional: true }],
                useFactory: (store: EventStore, readModel: ReadModel, projector?: Projector) =>
                  new ProjectionFreshness(store, readModel, projector ?? undefined, { onError: warnNow }),
              },
            ]),
        ReadSideLifecycle,
      ],
      exports: [ReadModel, ...(options.readOnly ? [] : [ProjectionFreshness]), ...(project ? [Projector] : [])],
    };
  }
}
