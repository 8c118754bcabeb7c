import { DynamicModule, Module } from '@nestjs/common';
import { WorkerConfig } from '@simdeploy/config';
import { WorkerModule } from '@simdeploy/lifecycle';
import { TerminateController } from './terminate.controller';

@Module({})
export class TerminatorModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return { module: TerminatorModule, imports: [WorkerModule.forRoot(config, 'terminator')], controllers: [TerminateController] };
  }
}
