import { Inject, Injectable, OnApplicationBootstrap, OnApplicationShutdown } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { WorkerConfig } from '@simdeploy/config';
import { EventStore } from '@simdeploy/event-store';
import { NATS_CONNECTION } from '@simdeploy/messaging';
import { SERVICE_CONFIG } from '../core.module';
import { HealthServer } from './health-server';
import { natsAndStoreReadiness } from './setup';

/** The launcher's and terminator's metrics and health port (METRICS_PORT), open while the app runs. */
@Injectable()
export class WorkerHealth implements OnApplicationBootstrap, OnApplicationShutdown {
  private server?: HealthServer;

  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) private readonly config: WorkerConfig,
  ) {}

  get port(): number | undefined {
    return this.server?.port;
  }

  async onApplicationBootstrap(): Promise<void> {
    if (this.config.METRICS_PORT === 0) return;
    this.server = await HealthServer.start({
      port: this.config.METRICS_PORT,
      host: this.config.METRICS_HOST,
      readiness: () => natsAndStoreReadiness(this.nc, this.store),
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.server?.close();
  }
}
