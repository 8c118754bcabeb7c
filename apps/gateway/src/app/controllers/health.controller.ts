import { Controller, Get, HttpCode, HttpStatus, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ApiTags } from '@nestjs/swagger';
import type { NatsConnection } from '@nats-io/transport-node';
import { EventStore } from '@simdeploy/event-store';
import { NATS_CONNECTION } from '@simdeploy/messaging';
import { ProjectionFreshness, ReadModel } from '@simdeploy/read-model';
import { Public } from '../auth/jwt-auth.guard';

@ApiTags('health')
@Public()
@Controller('health')
export class HealthController {
  constructor(
    @Inject(NATS_CONNECTION) private readonly nc: NatsConnection,
    private readonly store: EventStore,
    private readonly readModel: ReadModel,
    private readonly freshness: ProjectionFreshness,
  ) {}

  /** The process answers. */
  @Get()
  live(): { status: 'ok' } {
    return { status: 'ok' };
  }

  /** NATS and the event store answer, and the read model has reached the store's head as of this start. */
  @Get('ready')
  @HttpCode(HttpStatus.OK)
  async ready(): Promise<{ status: 'ok'; nats: boolean; eventStore: boolean; readModel: boolean }> {
    const nats = !this.nc.isClosed() && (await this.nc.flush().then(() => true, () => false));
    const eventStore = await this.store.ping().catch(() => false);
    const readModel = this.freshness.isReady() && (await this.readModel.ping());
    if (!nats || !eventStore || !readModel) throw new ServiceUnavailableException({ message: 'not ready', nats, eventStore, readModel });
    return { status: 'ok', nats, eventStore, readModel };
  }
}
