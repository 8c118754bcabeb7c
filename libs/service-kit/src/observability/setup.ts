import { Logger } from '@nestjs/common';
import type { NatsConnection } from '@nats-io/transport-node';
import type { CommonConfig } from '@simdeploy/config';
import type { EventStore } from '@simdeploy/event-store';
import { enableOtlpTracing, initMetrics } from '@simdeploy/telemetry';
import type { Readiness } from './health-server';
import { JsonLogger } from './logger';

/**
 * Before anything logs: JSON lines at LOG_LEVEL, metrics labelled with the service, and
 * span export when OTEL_EXPORTER_OTLP_ENDPOINT is set.
 */
export async function setupObservability(service: string, config: Pick<CommonConfig, 'LOG_LEVEL' | 'OTEL_EXPORTER_OTLP_ENDPOINT'>): Promise<void> {
  Logger.overrideLogger(new JsonLogger({ service, level: config.LOG_LEVEL }));
  initMetrics(service);
  if (config.OTEL_EXPORTER_OTLP_ENDPOINT) {
    await enableOtlpTracing({ endpoint: config.OTEL_EXPORTER_OTLP_ENDPOINT, serviceName: `simdeploy-${service}` });
    new Logger('telemetry').log(`exporting spans to ${config.OTEL_EXPORTER_OTLP_ENDPOINT}`);
  }
}

/** Ready when NATS and the event store both answer. */
export async function natsAndStoreReadiness(nc: NatsConnection, store: EventStore): Promise<Readiness> {
  const [nats, eventStore] = await Promise.all([
    nc.isClosed() ? false : nc.flush().then(() => true, () => false),
    store.ping().catch(() => false),
  ]);
  return { ready: nats && eventStore, checks: { nats, eventStore } };
}
