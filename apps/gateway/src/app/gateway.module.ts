import { DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { GatewayConfig } from '@simdeploy/config';
import { CoreModule, providerRegistryProviders } from '@simdeploy/service-kit';
import type { ProviderRegistry } from '@simdeploy/workflows';
import { AccessTokens } from './auth/access-tokens';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { TokenVerifier } from './auth/token-verifier';
import { AccessController } from './controllers/access.controller';
import { AdminController } from './controllers/admin.controller';
import { HealthController } from './controllers/health.controller';
import { LogsController } from './controllers/logs.controller';
import { SimulationsController } from './controllers/simulations.controller';
import { ErrorFilter } from './http/error.filter';
import { DeploymentsGauge } from './observability/deployments-gauge';
import { MetricsController } from './observability/metrics.controller';
import { SimulatorProxy } from './proxy/simulator-proxy';
import { AccessService } from './services/access.service';
import { AdminService } from './services/admin.service';
import { LogsService } from './services/logs.service';
import { SimulationsService } from './services/simulations.service';

@Module({})
export class GatewayModule {
  /** `registry`: the providers to reach simulators through (tests); default: built from the configuration. */
  static forRoot(config: GatewayConfig, options: { registry?: ProviderRegistry } = {}): DynamicModule {
    return {
      module: GatewayModule,
      imports: [CoreModule.forRoot(config, 'gateway')],
      controllers: [SimulationsController, AdminController, HealthController, MetricsController, AccessController, LogsController],
      providers: [
        DeploymentsGauge,
        TokenVerifier,
        SimulationsService,
        AdminService,
        AccessTokens,
        AccessService,
        LogsService,
        SimulatorProxy,
        ...providerRegistryProviders(config, 'gateway', options.registry),
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_FILTER, useClass: ErrorFilter },
        {
          provide: APP_PIPE,
          useValue: new ValidationPipe({
            whitelist: true,
            forbidNonWhitelisted: true,
            forbidUnknownValues: true,
            transform: true,
          }),
        },
      ],
    };
  }
}
