import fastifyRateLimit from '@fastify/rate-limit';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';
import { GatewayConfig } from '@simdeploy/config';
import { DashboardFiles, serveDashboardAssets } from './dashboard/dashboard-files';
import type { ProviderRegistry } from '@simdeploy/workflows';
import { GatewayModule } from './gateway.module';
import { instrumentHttp } from './observability/http-instrumentation';
import { SimulatorProxy } from './proxy/simulator-proxy';

/** The gateway as an application, ready to listen: shared by main.ts and the tests. */
export async function createGatewayApp(config: GatewayConfig, options: { logger?: false; registry?: ProviderRegistry } = {}): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({ bodyLimit: config.BODY_LIMIT_BYTES });
  instrumentHttp(adapter.getInstance());
  const app = await NestFactory.create<NestFastifyApplication>(GatewayModule.forRoot(config, { registry: options.registry }), adapter, {
    ...(options.logger === false ? { logger: false } : {}),
  });
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('simdeploy')
      .setDescription('Launch and stop cloud robotics simulations; every status change is an auditable event.')
      .addBearerAuth()
      .build(),
  );
  SwaggerModule.setup('docs', app, document);
  // No hooks of its own (global: false): RateLimitGuard counts each caller once the token is verified.
  await app.register(fastifyRateLimit, { global: false });
  serveDashboardAssets(app, app.get(DashboardFiles));
  await app.get(SimulatorProxy).register(adapter.getInstance());
  app.enableShutdownHooks();
  await app.init();
  return app;
}
