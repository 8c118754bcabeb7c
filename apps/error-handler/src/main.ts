import 'reflect-metadata';
import { runService } from '@simdeploy/service-kit';
import { ErrorHandlerConfig } from './app/error-handler.config';
import { ErrorHandlerRunner } from './app/error-handler.runner';

runService('error-handler', ErrorHandlerConfig, async (config) => {
  const runner = await ErrorHandlerRunner.start(config);
  const shutdown = () => {
    runner.stop().then(
      () => process.exit(0),
      () => process.exit(1),
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
});
