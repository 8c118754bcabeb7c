import { DynamicModule, Module } from '@nestjs/common';
import { WorkerConfig } from '@simdeploy/config';
import { WorkerModule } from '@simdeploy/lifecycle';
import { FailureController } from './failure.controller';

@Module({})
export class ErrorHandlerModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return { module: ErrorHandlerModule, imports: [WorkerModule.forRoot(config, 'error-handler')], controllers: [FailureController] };
  }
}
