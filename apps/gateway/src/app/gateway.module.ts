import { DynamicModule, Module, ValidationPipe } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { GatewayConfig } from '@simdeploy/config';
import { CoreModule, ReadSideModule, providerRegistryProviders } from '@simdeploy/service-kit';
import type { ProviderRegistry } from '@simdeploy/workflows';
import { AccessTokens } from './auth/access-tokens';
import { JwtAuthGuard } from './auth/jwt-auth.guard';
import { RateLimitGuard } from './auth/rate-limit.guard';
import { TokenVerifier } from './auth/token-verifier';
import { AccessController } from './controllers/access.controller';
import { AdminController } from './controllers/admin.controller';
import { DashboardController } from './controllers/dashboard.controller';
import { HealthController } from './controllers/health.controller';
import { LocalTokensController } from './controllers/local-tokens.controller';
import { LogsController } from './controllers/logs.controller';
import { SimulationsController } from './controllers/simulations.controller';
import { StreamController } from './controllers/stream.controller';
import { UsageController } from './controllers/usage.controller';
import { DashboardFiles } from './dashboard/dashboard-files';
import { ErrorFilter } from './http/error.filter';
import { DeploymentsGauge } from './observability/deployments-gauge';
import { MetricsController } from './observability/metrics.controller';
import { SimulatorProxy } from './proxy/simulator-proxy';
import { AccessService } from './services/access.service';
import { AdminService } from './services/admin.service';
import { HistoryService } from './services/history.service';
import { LogsService } from './services/logs.service';
import { SimulationsService } from './services/simulations.service';
import { StreamService } from './services/stream.service';

@Module({})
export class GatewayModule {
  /** `registry`: the providers to reach simulators through (tests); default: built from the configuration. */
  static forRoot(config: GatewayConfig, options: { registry?: ProviderRegistry } = {}): DynamicModule {
    return {
      module: GatewayModule,
      imports: [
        CoreModule.forRoot(config, 'gateway'),
        // On a shared read model (PostgreSQL) every gateway tries; the projector lock lets one project at a time.
        ReadSideModule.forRoot(config, { project: config.READ_MODEL_PROJECTOR, batchSize: config.READ_MODEL_BATCH_SIZE }),
      ],
      controllers: [
        StreamController,
        SimulationsController,
        AdminController,
        HealthController,
        MetricsController,
        AccessController,
        LogsController,
        UsageController,
        ...(config.DASHBOARD_LOCAL_TOKENS ? [LocalTokensController] : []),
        // Last: its catch-all route serves the dashboard's client-side routes.
        DashboardController,
      ],
      providers: [
        DeploymentsGauge,
        TokenVerifier,
        SimulationsService,
        AdminService,
        HistoryService,
        StreamService,
        { provide: DashboardFiles, useValue: DashboardFiles.load(config) },
        AccessTokens,
        AccessService,
        LogsService,
        SimulatorProxy,
        ...providerRegistryProviders(config, 'gateway', options.registry),
        // In this order: the caller is known before their requests are counted.
        { provide: APP_GUARD, useClass: JwtAuthGuard },
        { provide: APP_GUARD, useClass: RateLimitGuard },
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
