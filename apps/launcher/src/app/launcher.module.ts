import { DynamicModule, Module } from '@nestjs/common';
import { WorkerConfig } from '@simdeploy/config';
import { LaunchController, WorkerModule } from '@simdeploy/service-kit';

@Module({})
export class LauncherModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return { module: LauncherModule, imports: [WorkerModule.forRoot(config, 'launcher')], controllers: [LaunchController] };
  }
}
