import { BadRequestException, Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
import { GatewayConfig } from '@simdeploy/config';
import { EventStore } from '@simdeploy/event-store';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import type { FastifyReply } from 'fastify';
import { Principal } from '../auth/principal';
import { StreamSimulationsQuery } from '../dtos/stream-simulations.query';
import { ChangeFeed } from '../stream/change-feed';
import { changeFilter } from '../stream/change-filter';
import { DeploymentHistories } from '../stream/deployment-histories';
import { StreamClient } from '../stream/stream-client';

/** Positions are decimal strings; anything else did not come from this stream. */
const POSITION = /^\d{1,40}$/;
const RETRY_MS = 2_000;

/** GET /simulations/stream: live changes of the caller's simulations as Server-Sent Events. */
@Injectable()
export class StreamService implements OnModuleInit, OnModuleDestroy {
  private readonly histories: DeploymentHistories;
  private readonly feed: ChangeFeed;
  private readonly clients = new Set<StreamClient>();

  constructor(
    private readonly store: EventStore,
    @Inject(SERVICE_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.histories = new DeploymentHistories(store);
    this.feed = new ChangeFeed(store, this.histories);
  }

  onModuleInit(): void {
    this.feed.start();
  }

  /** Validates before anything is sent, so a bad request still gets a JSON 400. */
  open(principal: Principal, query: StreamSimulationsQuery, lastEventId: string | undefined, reply: FastifyReply): void {
    const visible = changeFilter(principal, query);
    const resumeAfter = lastEventId?.trim() || null;
    if (resumeAfter !== null && !POSITION.test(resumeAfter)) {
      throw new BadRequestException('Last-Event-ID must be the id of a message from this stream (a decimal position)');
    }
    reply.hijack();
    reply.raw.writeHead(200, {
      'content-type': 'text/event-stream; charset=utf-8',
      'cache-control': 'no-cache, no-transform',
      // Proxies such as nginx would otherwise hold the stream back in their buffers.
      'x-accel-buffering': 'no',
    });
    const client = new StreamClient(
      reply.raw,
      this.feed,
      this.store,
      this.histories,
      visible,
      { heartbeatMs: this.config.SSE_HEARTBEAT_MS, bufferBytes: this.config.SSE_CLIENT_BUFFER_BYTES, retryMs: RETRY_MS },
      resumeAfter,
      (closed) => this.clients.delete(closed),
    );
    this.clients.add(client);
    client.start();
  }

  /** Open streams would keep the server from closing: end them, their clients reconnect elsewhere. */
  async onModuleDestroy(): Promise<void> {
    for (const client of [...this.clients]) client.close('shutdown');
    await this.feed.stop();

  }
}
