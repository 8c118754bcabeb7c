import { Controller, Get, Header, Inject, NotFoundException, Req } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { GatewayConfig } from '@simdeploy/config';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import type { FastifyRequest } from 'fastify';
import { Public } from '../auth/jwt-auth.guard';

const LOOPBACK_ADDRESS = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|::ffff:127\.\d{1,3}\.\d{1,3}\.\d{1,3})$/;
const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|\[::1\]|localhost)(:\d+)?$/;

/**
 * The tokens `npm start` printed, offered by the dashboard for sign-in on this machine.
 * Registered only when DASHBOARD_LOCAL_TOKENS is set (which the configuration allows only
 * with a loopback HOST); it answers only loopback callers that name a loopback host, so a
 * web page whose DNS name was rebound to 127.0.0.1 cannot read them either.
 */
@ApiExcludeController()
@Public()
@Controller('local-tokens')
export class LocalTokensController {
  constructor(@Inject(SERVICE_CONFIG) private readonly config: GatewayConfig) {}

  @Get()
  @Header('cache-control', 'no-store')
  tokens(@Req() request: FastifyRequest): { tokens: { name: string; token: string }[] } {
    const local = LOOPBACK_ADDRESS.test(request.socket.remoteAddress ?? '') && LOOPBACK_HOST.test(request.headers.host ?? '');
    if (!local || !this.config.DASHBOARD_LOCAL_TOKENS) throw new NotFoundException('Cannot GET /local-tokens');
    return { tokens: Object.entries(this.config.DASHBOARD_LOCAL_TOKENS).map(([name, token]) => ({ name, token })) };
  }
}
