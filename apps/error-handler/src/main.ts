import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { WorkerConfig } from '@simdeploy/config';
import { runService } from '@simdeploy/lifecycle';
import { commandMicroserviceOptions } from '@simdeploy/messaging';
import { ErrorHandlerModule } from './app/error-handler.module';

runService('error-handler', WorkerConfig, async (config) => {
  const app = await NestFactory.createMicroservice(ErrorHandlerModule.forRoot(config), commandMicroserviceOptions());
  app.enableShutdownHooks();
  await app.listen();
});
