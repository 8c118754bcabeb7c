import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * Every metric a simdeploy service exposes, in one registry per process: what /metrics
 * serves. The docs (docs/production.md, "Observe and scale") list each one with its labels;
 * a test checks that they do.
 */
export const metricsRegistry = new Registry();

const registers = [metricsRegistry];

/** Seconds: HTTP answers and command handlers, from a millisecond to half a minute. */
const FAST_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
/** Seconds: provider calls, from a local slot to a slow cloud API. */
const PROVIDER_BUCKETS = [0.005, 0.025, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
/** Seconds: a whole launch or termination, from a local slot to EC2 boot plus image pulls. */
const LIFECYCLE_BUCKETS = [0.5, 1, 2.5, 5, 10, 30, 60, 120, 180, 300, 600, 900, 1800];
/** Seconds a command is handed back for. */
const DELAY_BUCKETS = [0, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60];

const counter = <L extends string>(name: string, help: string, labelNames: readonly L[]) =>
  new Counter<L>({ name, help, labelNames, registers });
const gauge = <L extends string>(name: string, help: string, labelNames: readonly L[]) => new Gauge<L>({ name, help, labelNames, registers });
const histogram = <L extends string>(name: string, help: string, labelNames: readonly L[], buckets: number[]) =>
  new Histogram<L>({ name, help, labelNames, buckets, registers });

export const httpMetrics = {
  requests: counter('simdeploy_http_requests_total', 'HTTP requests answered by the gateway, by route pattern, method and status code.', ['route', 'method', 'status']),
  duration: histogram(
    'simdeploy_http_request_duration_seconds',
    'Time from receiving an HTTP request to sending its answer, by route pattern, method and status code.',
    ['route', 'method', 'status'],
    FAST_BUCKETS,
  ),
};

export const commandMetrics = {
  sent: counter('simdeploy_commands_sent_total', 'Lifecycle commands published to the command stream, by kind and why (api, step, timer, reconciler).', ['kind', 'reason']),
  received: counter('simdeploy_commands_received_total', 'Commands delivered to a handler in this replica, by kind (redeliveries included).', ['kind']),
  redelivered: counter('simdeploy_commands_redelivered_total', 'Deliveries of a command that had been delivered before (after a nak or an expired ack wait), by kind.', ['kind']),
  acked: counter('simdeploy_commands_acked_total', 'Commands acknowledged as done, by kind.', ['kind']),
  naked: counter(
    'simdeploy_commands_naked_total',
    'Commands handed back to the queue with a delay, by kind and reason: requested (the handler asked to be called again), error (the handler threw), shed (the replica was stopping or over its pool).',
    ['kind', 'reason'],
  ),
  nakDelay: histogram('simdeploy_command_nak_delay_seconds', 'The delay a command was handed back with, by kind and reason.', ['kind', 'reason'], DELAY_BUCKETS),
  inFlight: gauge('simdeploy_commands_in_flight', 'Command handlers running now in this replica, by kind.', ['kind']),
  duration: histogram(
    'simdeploy_command_handler_duration_seconds',
    'Time a command handler ran, by kind and outcome (ack, nak, error).',
    ['kind', 'outcome'],
    FAST_BUCKETS,
  ),
};

export const providerMetrics = {
  calls: counter('simdeploy_provider_calls_total', 'Provider operation attempts (each retry counts), by provider and operation.', ['provider', 'operation']),
  errors: counter(
    'simdeploy_provider_errors_total',
    'Failed provider operation attempts, by provider, operation, error code and whether the error was transient (retried) or permanent.',
    ['provider', 'operation', 'code', 'transient'],
  ),
  duration: histogram('simdeploy_provider_call_duration_seconds', 'Time one provider operation attempt took, by provider and operation.', ['provider', 'operation'], PROVIDER_BUCKETS),
};

export const lifecycleMetrics = {
  eventsAppended: counter('simdeploy_events_appended_total', 'Deployment events appended by this process, by event type.', ['type']),
  launchDuration: histogram(
    'simdeploy_launch_duration_seconds',
    'From SimulationRequested to SimulationRunning (event timestamps), by provider.',
    ['provider'],
    LIFECYCLE_BUCKETS,
  ),
  terminationDuration: histogram(
    'simdeploy_termination_duration_seconds',
    'From StopRequested to SimulationTerminated (event timestamps), by provider.',
    ['provider'],
    LIFECYCLE_BUCKETS,
  ),
};

export const leaseMetrics = {
  leader: gauge('simdeploy_lease_leader', '1 while this process holds the lease (error-handler, timers-launch, ...), 0 while it stands by.', ['key']),
  transitions: counter('simdeploy_lease_transitions_total', 'Times this process acquired or lost a lease, by key and change.', ['key', 'change']),
};

export const recoveryMetrics = {
  reconcilerRuns: counter('simdeploy_reconciler_runs_total', 'Reconciler passes over the deployments that are not final, by outcome (ok, error).', ['outcome']),
  reconcilerResent: counter('simdeploy_reconciler_resent_total', 'Commands the reconciler sent again because they were lost, by kind.', ['kind']),
  sweepFindings: counter(
    'simdeploy_sweep_findings_total',
    'Orphans the sweep found, by provider, kind (instance, workload) and action (removed, would-remove in a dry run, failed).',
    ['provider', 'kind', 'action'],
  ),
  sweepErrors: counter('simdeploy_sweep_errors_total', 'Sweep listings that failed, by provider and kind.', ['provider', 'kind']),
};

export const timerMetrics = {
  scheduled: counter('simdeploy_timers_scheduled_total', 'Waits recorded as timers, by kind.', ['kind']),
  fired: counter('simdeploy_timers_fired_total', 'Timers whose command was sent, by kind.', ['kind']),
  readinessRounds: counter('simdeploy_readiness_rounds_total', 'Batched readiness rounds of the launcher leading the launch timers, by outcome (ok, error).', ['outcome']),
  readinessChecked: counter('simdeploy_readiness_checked_total', 'Waiting deployments looked at by readiness rounds.', []),
  readinessWoken: counter('simdeploy_readiness_woken_total', 'Waiting deployments a readiness round woke before their deadline.', []),
  readinessRoundDuration: histogram('simdeploy_readiness_round_duration_seconds', 'Time one readiness round took, all providers together.', [], PROVIDER_BUCKETS),
};

type Sample<L extends string> = { labels: Record<L, string>; value: number };
type Source<L extends string> = () => Promise<readonly Sample<L>[]> | readonly Sample<L>[];

/** How long a scrape waits for one source: a stuck NATS or database must not stall /metrics. */
const SOURCE_TIMEOUT_MS = 2_000;

/**
 * A gauge whose values are read from whoever registered a source, at scrape time. A source
 * that fails or takes longer than SOURCE_TIMEOUT_MS leaves its series out of that scrape.
 */
class SourcedGauge<L extends string> {
  private readonly sources = new Set<Source<L>>();
  readonly gauge: Gauge<L>;

  constructor(name: string, help: string, labelNames: readonly L[]) {
    const sources = this.sources;
    this.gauge = new Gauge<L>({
      name,
      help,
      labelNames,
      registers,
      async collect() {
        this.reset();
        await Promise.all(
          [...sources].map(async (source) => {
            const samples = await withTimeout(Promise.resolve().then(source), SOURCE_TIMEOUT_MS).catch(() => []);
            for (const sample of samples) this.set(sample.labels as Partial<Record<L, string>>, sample.value);
          }),
        );
      },
    });
  }

  /** Adds a source; the returned function removes it. */
  add(source: Source<L>): () => void {
    this.sources.add(source);
    return () => this.sources.delete(source);
  }
}

async function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([work, new Promise<never>((_, reject) => (timer = setTimeout(() => reject(new Error('timed out')), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

export const deploymentsGauge = new SourcedGauge(
  'simdeploy_deployments',
  'Deployments by status and error status (none when there is none), as the read model shows them.',
  ['status', 'error_status'],
);

export const consumerGauges = {
  pending: new SourcedGauge('simdeploy_jetstream_consumer_pending', 'Commands waiting in the stream for the kind\'s durable consumer (num_pending): what KEDA scales on.', ['kind', 'consumer']),
  ackPending: new SourcedGauge('simdeploy_jetstream_consumer_ack_pending', 'Commands delivered to a replica and not yet acknowledged (num_ack_pending), by kind.', ['kind', 'consumer']),
  redelivered: new SourcedGauge('simdeploy_jetstream_consumer_redelivered', 'Commands delivered more than once and not yet acknowledged (num_redelivered), by kind.', ['kind', 'consumer']),
};

export const timersWaitingGauge = new SourcedGauge('simdeploy_timers_waiting', 'Timers held by the replica that fires the kind\'s timers.', ['kind']);

/**
 * Counts of things, asked at most once per `maxAgeMs` whatever the scrape rate, so that many
 * Prometheus servers (or a short scrape interval) do not multiply the calls behind them.
 */
export function cachedSource<T>(read: () => Promise<T>, maxAgeMs: number): () => Promise<T> {
  let last: { at: number; value: Promise<T> } | undefined;
  return () => {
    const now = Date.now();
    if (!last || now - last.at >= maxAgeMs) {
      const value = read();
      last = { at: now, value };
      // A failure is not kept: the next scrape asks again.
      value.catch(() => {
        if (last?.value === value) last = undefined;
      });
    }
    return last.value;
  };
}

let initialised: string | undefined;

/**
 * Labels every series with the service's name and adds Node's process metrics
 * (process_cpu_seconds_total, heap, event-loop lag...). Once per process.
 */
export function initMetrics(service: string): void {
  if (initialised !== undefined) return;
  initialised = service;
  metricsRegistry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: metricsRegistry });
}

/** What /metrics answers. */
export async function renderMetrics(): Promise<{ contentType: string; body: string }> {
  return { contentType: metricsRegistry.contentType, body: await metricsRegistry.metrics() };
}
