import { DynamicModule, Module } from '@nestjs/common';
import { WorkerConfig } from '@simdeploy/config';
import { WorkerModule } from '@simdeploy/lifecycle';
import { LaunchController } from './launch.controller';

@Module({})
export class LauncherModule {
  static forRoot(config: WorkerConfig): DynamicModule {
    return { module: LauncherModule, imports: [WorkerModule.forRoot(config, 'launcher')], controllers: [LaunchController] };
  }
}
