import { INestMicroservice, Logger, LoggerService, LogLevel } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { ProviderRegistry } from '@simdeploy/workflows';
import { EventStore } from '@simdeploy/event-store';
import { LeaderLease, NATS_CONNECTION, commandMicroserviceOptions } from '@simdeploy/messaging';
import { HealthServer, natsAndStoreReadiness, type Readiness } from '@simdeploy/service-kit';
import { ErrorHandlerConfig } from './error-handler.config';
import { ErrorHandlerModule } from './error-handler.module';

export interface ErrorHandlerRunnerOptions {
  /** Providers to use instead of those the configuration names (tests inject fault-injecting ones). */
  registry?: ProviderRegistry;
  logger?: LoggerService | LogLevel[] | false;
  holder?: string;
  /**
   * Called when this replica won the lease but could not start consuming. The default ends
   * the process (exit code 1): its lease then expires and a healthy replica takes over,
   * while the supervisor restarts this one.
   */
  onActivationFailure?: (error: unknown) => void;
}

/**
 * One error handler at a time: every replica competes for the `error-handler` lease; the
 * holder creates the microservice (consuming HandleFailure commands) and runs the periodic
 * jobs, and closes it all when it loses the lease. A standby holds nothing but its lease
 * connection. Starting the app only on winning is simpler and safer than pausing a running
 * consumer: a standby cannot consume by accident, whatever state its transport is in.
 */
export class ErrorHandlerRunner {
  private readonly logger = new Logger(ErrorHandlerRunner.name);
  private app?: INestMicroservice;
  private health?: HealthServer;

  private constructor(
    private readonly config: ErrorHandlerConfig,
    readonly lease: LeaderLease,
    private readonly leaseConnection: NatsConnection,
    private readonly options: ErrorHandlerRunnerOptions,
  ) {}

  static async start(config: ErrorHandlerConfig, options: ErrorHandlerRunnerOptions = {}): Promise<ErrorHandlerRunner> {
    const nc = await connect({ servers: config.NATS_URL, name: 'error-handler-lease', maxReconnectAttempts: -1 });
    const lease = await LeaderLease.create(nc, {
      key: 'error-handler',
      bucket: config.LEADER_LEASE_BUCKET,
      ttlMs: config.LEADER_LEASE_TTL_MS,
      holder: options.holder,
    });
    const runner = new ErrorHandlerRunner(config, lease, nc, options);
    // Standbys answer too: a standby is ready when it can take the lease over.
    if (config.METRICS_PORT > 0) {
      runner.health = await HealthServer.start({ port: config.METRICS_PORT, host: config.METRICS_HOST, readiness: () => runner.readiness() });
    }
    lease.start({ acquired: () => runner.activate(), lost: () => runner.deactivate() });
    return runner;
  }

  /** The port /metrics and /health answer on, when METRICS_PORT is set. */
  get healthPort(): number | undefined {
    return this.health?.port;
  }

  private async readiness(): Promise<Readiness> {
    const lease = this.leaseConnection.isClosed() ? false : await this.leaseConnection.flush().then(() => true, () => false);
    const app = this.app;
    if (!app) return { ready: lease, checks: { lease, role: 'standby' } };
    const active = await natsAndStoreReadiness(app.get(NATS_CONNECTION), app.get(EventStore));
    return { ready: lease && active.ready, checks: { lease, role: 'active', ...active.checks } };
  }

  /** The running microservice while this replica leads. */
  get active(): INestMicroservice | undefined {
    return this.app;
  }

  async stop(): Promise<void> {
    // Stopping the lease steps down first, which closes the microservice (deactivate).
    await this.lease.stop();
    if (!this.leaseConnection.isClosed()) await this.leaseConnection.drain();
    await this.health?.close();
  }

  private async activate(): Promise<void> {
    this.logger.log(`${this.lease.holder} is the active error handler`);
    try {
      const app = await NestFactory.createMicroservice(ErrorHandlerModule.forRoot(this.config, this.options.registry), {
        ...commandMicroserviceOptions(),
        ...(this.options.logger !== undefined ? { logger: this.options.logger } : {}),
      });
      await app.listen();
      this.app = app;
    } catch (error) {
      // Holding the lease without consuming would stall every failed deployment.
      this.logger.error(`could not start while leading: ${error instanceof Error ? error.message : String(error)}`);
      (this.options.onActivationFailure ?? (() => process.exit(1)))(error);
    }
  }

  private async deactivate(): Promise<void> {
    const app = this.app;
    this.app = undefined;
    if (!app) return;
    this.logger.warn(`${this.lease.holder} stands by`);
    await app.close();
  }
}
