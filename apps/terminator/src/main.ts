import 'reflect-metadata';
import { NestFactory } from '@nestjs/core';
import { WorkerConfig } from '@simdeploy/config';
import { runService } from '@simdeploy/service-kit';
import { commandMicroserviceOptions } from '@simdeploy/messaging';
import { TerminatorModule } from './app/terminator.module';

runService('terminator', WorkerConfig, async (config) => {
  const app = await NestFactory.createMicroservice(TerminatorModule.forRoot(config), commandMicroserviceOptions());
  app.enableShutdownHooks();
  await app.listen();
});
