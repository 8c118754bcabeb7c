import 'reflect-metadata';
import { Logger } from '@nestjs/common';
import { GatewayConfig } from '@simdeploy/config';
import { runService } from '@simdeploy/service-kit';
import { createGatewayApp } from './app/create-app';

runService('gateway', GatewayConfig, async (config) => {
  const app = await createGatewayApp(config);
  await app.listen(config.PORT, config.HOST);
  new Logger('gateway').log(`listening on ${await app.getUrl()}`);
});
