import { Controller, Get, Res } from '@nestjs/common';
import { ApiExcludeController } from '@nestjs/swagger';
import { renderMetrics } from '@simdeploy/telemetry';
import type { FastifyReply } from 'fastify';
import { Public } from '../auth/jwt-auth.guard';

/** Prometheus scrapes this; it tells counts, never a deployment's data. */
@ApiExcludeController()
@Public()
@Controller('metrics')
export class MetricsController {
  @Get()
  async metrics(@Res({ passthrough: true }) reply: FastifyReply): Promise<string> {
    const { contentType, body } = await renderMetrics();
    void reply.header('content-type', contentType);
    return body;
  }
}
