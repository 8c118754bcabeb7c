import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { WorkerConfig } from '@simdeploy/config';
import { runService } from '@simdeploy/service-kit';
import { commandMicroserviceOptions } from '@simdeploy/messaging';
import { LauncherModule } from './app/launcher.module';

runService('launcher', WorkerConfig, async (config) => {
  const app = await NestFactory.createMicroservice(LauncherModule.forRoot(config), commandMicroserviceOptions());
  app.enableShutdownHooks();
  await app.listen();
});
