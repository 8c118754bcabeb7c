import { DynamicModule, Module } from '@nestjs/common';
import { WorkerConfig } from '@simdeploy/config';
import { TerminateController, WorkerModule } from '@simdeploy/service-kit';

@Module({})
export class TerminatorModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return { module: TerminatorModule, imports: [WorkerModule.forRoot(config, 'terminator')], controllers: [TerminateController] };
  }
}
