import { commandMetrics } from '@simdeploy/telemetry';
import { HealthServer, type Readiness } from './health-server';

describe('the workers\' metrics and health port', () => {
  let server: HealthServer;
  let readiness: () => Promise<Readiness>;
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

  beforeEach(async () => {
    readiness = async () => ({ ready: true, checks: { nats: true, eventStore: true } });
    server = await HealthServer.start({ port: 0, host: '127.0.0.1', readiness: () => readiness() });
  });

  afterEach(() => server.close());

  it('serves the registry in the Prometheus text format', async () => {
    commandMetrics.acked.inc({ kind: 'launch' });
    const response = await fetch(url('/metrics'));
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(await response.text()).toMatch(/simdeploy_commands_acked_total\{kind="launch"\} \d+/);
  });

  it('answers liveness whatever the dependencies say', async () => {
    readiness = async () => ({ ready: false, checks: { nats: false } });
    expect((await fetch(url('/health'))).status).toBe(200);
  });

  it('readiness is 200 with the checks when ready, 503 naming what failed when not', async () => {
    const ok = await fetch(url('/health/ready'));
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ status: 'ok', nats: true, eventStore: true });
    readiness = async () => ({ ready: false, checks: { nats: true, eventStore: false } });
    const down = await fetch(url('/health/ready'));
    expect(down.status).toBe(503);
    expect(await down.json()).toEqual({ status: 'not ready', nats: true, eventStore: false });
  });

  it('a readiness check that hangs is "not ready", not a hung probe', async () => {
    readiness = () => new Promise(() => undefined);
    const response = await fetch(url('/health/ready'));
    expect(response.status).toBe(503);
    expect(((await response.json()) as { timeout: string }).timeout).toMatch(/no answer/);
  }, 10_000);

  it('anything else is a 404 that says what is there; only GET is answered', async () => {
    const missing = await fetch(url('/simulations'));
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { message: string }).message).toContain('/metrics');
    expect((await fetch(url('/metrics'), { method: 'POST' })).status).toBe(405);
  });
});
