import { waitFor } from '@simdeploy/testing';
import { parseMetrics, scrape, type Scrape } from './support/metrics';
import { Api, RunningSystem, api, startSystem } from './support/system';

const simulation = {
  world: 'worlds/metrics.sdf',
  image: 'gazebo/gz-sim:harmonic',
  robots: [{ name: 'r0', image: 'acme/robot:1' }],
  nodeInstanceType: 'c5.large',
};
const LIFECYCLES = 3;
const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';
const traceparent = (i: number) => `00-${TRACE_ID}-${(i + 1).toString(16).padStart(16, '0')}-01`;

type Scrapes = Record<string, Scrape>;

async function scrapeAll(system: RunningSystem): Promise<Scrapes> {
  return Object.fromEntries(await Promise.all(Object.entries(system.metrics).map(async ([name, base]) => [name, await scrape(base)] as const)));
}

describe('metrics, health and traces of the running services', () => {
  let system: RunningSystem;
  let user: Api;
  let before: Scrapes;
  let after: Scrapes;
  const ids: string[] = [];

  beforeAll(async () => {
    system = await startSystem({ LOG_LEVEL: 'log', SIMULATOR_COMMAND: JSON.stringify(['sh', '-c', 'touch "$SIMDEPLOY_READY_FILE"; exec sleep 100000']) });
    user = api(system.url, await system.token('metrics-user'));
    before = await scrapeAll(system);

    for (let i = 0; i < LIFECYCLES; i++) {
      const launched = await user('POST', '/simulations', simulation, { traceparent: traceparent(i) });
      expect(launched.status).toBe(202);
      ids.push(launched.json.id);
    }
    const statuses = async () => Promise.all(ids.map(async (id) => (await user('GET', `/simulations/${id}`)).json));
    await waitFor(async () => (await statuses()).every((s) => s.status === 'Running'), { timeoutMs: 30_000, description: 'Running' });
    for (const [i, id] of ids.entries()) expect((await user('POST', `/simulations/${id}/stop`, undefined, { traceparent: traceparent(i) })).status).toBe(202);
    await waitFor(async () => (await statuses()).every((s) => s.status === 'Terminated' && s.errorStatus === null), { timeoutMs: 30_000, description: 'Terminated' });
    expect((await user('GET', '/no/such/route')).status).toBe(404);
    after = await scrapeAll(system);
  }, 120_000);

  afterAll(async () => {
    await system?.stop();
  }, 60_000);

  const moved = (service: string, name: string, labels: Record<string, string> = {}) =>
    (after[service] as Scrape).value(name, labels) - (before[service] as Scrape).value(name, labels);

  it('every service answers /metrics, /health and /health/ready', async () => {
    expect(Object.keys(system.metrics).sort()).toEqual(['error-handler', 'gateway', 'launcher', 'terminator']);
    for (const base of Object.values(system.metrics)) {
      expect((await fetch(`${base}/health`)).status).toBe(200);
      expect((await fetch(`${base}/health/ready`)).status).toBe(200);
    }
  });

  it('the gateway counts its requests by route pattern, method and status, with latencies', () => {
    expect(moved('gateway', 'simdeploy_http_requests_total', { route: '/simulations', method: 'POST', status: '202' })).toBe(LIFECYCLES);
    expect(moved('gateway', 'simdeploy_http_requests_total', { route: '/simulations/:id/stop', method: 'POST', status: '202' })).toBe(LIFECYCLES);
    expect(moved('gateway', 'simdeploy_http_request_duration_seconds_count', { route: '/simulations', method: 'POST' })).toBe(LIFECYCLES);
    expect(moved('gateway', 'simdeploy_http_requests_total', { route: 'unmatched', status: '404' })).toBe(1);
    // Raw URLs never become label values.
    expect((after['gateway'] as Scrape).value('simdeploy_http_requests_total', { route: `/simulations/${ids[0]}` })).toBe(0);
  });

  it('the gateway sent one launch and one terminate command per lifecycle, and appended the requests', () => {
    expect(moved('gateway', 'simdeploy_commands_sent_total', { kind: 'launch', reason: 'api' })).toBe(LIFECYCLES);
    expect(moved('gateway', 'simdeploy_commands_sent_total', { kind: 'terminate', reason: 'api' })).toBe(LIFECYCLES);
    expect(moved('gateway', 'simdeploy_events_appended_total', { type: 'SimulationRequested' })).toBe(LIFECYCLES);
    expect(moved('gateway', 'simdeploy_events_appended_total', { type: 'StopRequested' })).toBe(LIFECYCLES);
  });

  it.each([
    ['launcher', 'launch', 'SimulationRunning', 'simdeploy_launch_duration_seconds_count'],
    ['terminator', 'terminate', 'SimulationTerminated', 'simdeploy_termination_duration_seconds_count'],
  ])('the %s handled its commands, appended each outcome once and timed each lifecycle', (service, kind, event, histogram) => {
    const received = moved(service, 'simdeploy_commands_received_total', { kind });
    expect(received).toBeGreaterThanOrEqual(LIFECYCLES);
    // Every delivery ends in an ack or a nak, none still running.
    expect(moved(service, 'simdeploy_commands_acked_total', { kind }) + moved(service, 'simdeploy_commands_naked_total', { kind })).toBe(received);
    expect(moved(service, 'simdeploy_commands_acked_total', { kind })).toBeGreaterThanOrEqual(LIFECYCLES);
    expect((after[service] as Scrape).value('simdeploy_commands_in_flight', { kind })).toBe(0);
    expect(moved(service, 'simdeploy_command_handler_duration_seconds_count', { kind })).toBe(received);
    expect(moved(service, 'simdeploy_events_appended_total', { type: event })).toBe(LIFECYCLES);
    expect(moved(service, histogram, { provider: 'local' })).toBe(LIFECYCLES);
    expect((after[service] as Scrape).series('simdeploy_jetstream_consumer_pending')).toBe(1);
    expect((after[service] as Scrape).value('simdeploy_lease_leader', { key: `timers-${kind}` })).toBe(1);
  });

  it('provider calls are counted per operation, through the one wrapper', () => {
    expect(moved('launcher', 'simdeploy_provider_calls_total', { provider: 'local', operation: 'createWorkload' })).toBe(LIFECYCLES);
    expect(moved('launcher', 'simdeploy_provider_calls_total', { provider: 'local', operation: 'launchNode' })).toBe(2 * LIFECYCLES);
    expect(moved('launcher', 'simdeploy_provider_call_duration_seconds_count', { operation: 'createWorkload' })).toBe(LIFECYCLES);
    expect(moved('terminator', 'simdeploy_provider_calls_total', { provider: 'local', operation: 'deleteWorkload' })).toBe(LIFECYCLES);
    expect(moved('launcher', 'simdeploy_provider_errors_total')).toBe(0);
  });

  it('the error handler shows it holds its lease, and its consumer', async () => {
    expect((after['error-handler'] as Scrape).value('simdeploy_lease_leader', { key: 'error-handler' })).toBe(1);
    expect((after['error-handler'] as Scrape).series('simdeploy_jetstream_consumer_pending')).toBe(1);
    // The reconciler runs every RECONCILE_INTERVAL_MS; its first pass may come before the gateway created the read model.
    await waitFor(async () => (await scrape(system.metrics['error-handler'] as string)).value('simdeploy_reconciler_runs_total', { outcome: 'ok' }) > 0, {
      timeoutMs: 20_000,
      description: 'a reconciler pass',
    });
  });

  it('the gateway shows the deployments by status from its read model', async () => {
    await waitFor(
      async () => parseMetrics(await (await fetch(`${system.url}/metrics`)).text()).value('simdeploy_deployments', { status: 'Terminated', error_status: 'none' }) === LIFECYCLES,
      { timeoutMs: 15_000, intervalMs: 500, description: `${LIFECYCLES} Terminated deployments in simdeploy_deployments` },
    );
  });

  it('the caller\'s trace is continued in the answer, in every event and in the log lines of the gateway, the launcher and the terminator', async () => {
    const { json: events } = await user('GET', `/simulations/${ids[0]}/events`);
    expect(events.length).toBeGreaterThan(5);
    for (const event of events) expect(event.metadata.traceparent).toMatch(new RegExp(`^00-${TRACE_ID}-[0-9a-f]{16}-01$`));
    const traced = system.log.filter((line) => line.includes(`traceId=${TRACE_ID}`));
    for (const service of ['gateway', 'launcher', 'terminator']) {
      const lines = traced.filter((line) => line.startsWith(`[${service}]`));
      expect(lines.length).toBeGreaterThan(0);
      expect(lines.some((line) => line.includes(`deploymentId=${ids[0]}`))).toBe(true);
    }
    const response = await fetch(`${system.url}/health`, { headers: { traceparent: traceparent(9) } });
    expect(response.headers.get('traceparent')).toMatch(new RegExp(`^00-${TRACE_ID}-`));
  });
});
