import { ConfigError, loadConfig } from './load-config';
import { GatewayConfig, WorkerConfig } from './service-config';

const SECRET = 'x'.repeat(32);

describe('loadConfig', () => {
  it('applies defaults when nothing is set', () => {
    const config = loadConfig(WorkerConfig, {});
    expect(config).toMatchObject({ NATS_URL: 'nats://127.0.0.1:4222', EVENT_STORE: 'jetstream', POOL_SIZE: 10, PROVIDER: 'local' });
    expect(config.NODE_READY_TIMEOUT_S).toBe(300);
    expect(config.POD_READY_TIMEOUT_S).toBe(300);
  });

  it('converts numbers from the environment', () => {
    expect(loadConfig(WorkerConfig, { POOL_SIZE: '3', LOCAL_BOOT_DELAY_MS: '30000' })).toMatchObject({
      POOL_SIZE: 3,
      LOCAL_BOOT_DELAY_MS: 30000,
    });
  });

  it('names the variable, what it expected and what it got', () => {
    expect(() => loadConfig(WorkerConfig, { POOL_SIZE: 'many' })).toThrow(ConfigError);
    expect(() => loadConfig(WorkerConfig, { POOL_SIZE: 'many' })).toThrow(/POOL_SIZE: .*whole number.*\(got "many"\)/);
  });

  it('reports every bad variable at once', () => {
    try {
      loadConfig(WorkerConfig, { POOL_SIZE: '0', PROVIDER: 'gcp', NATS_URL: 'localhost' });
      fail('expected a ConfigError');
    } catch (error) {
      expect((error as ConfigError).problems.map((p) => p.split(':')[0]).sort()).toEqual(['NATS_URL', 'POOL_SIZE', 'PROVIDER']);
    }
  });

  it('requires the EventStoreDB connection string only when that store is chosen', () => {
    expect(() => loadConfig(WorkerConfig, { EVENT_STORE: 'esdb' })).toThrow(/ESDB_CONNECTION_STRING: .*\(not set\)/);
    expect(loadConfig(WorkerConfig, { EVENT_STORE: 'esdb', ESDB_CONNECTION_STRING: 'esdb://127.0.0.1:2113?tls=false' }))
      .toMatchObject({ EVENT_STORE: 'esdb' });
  });

  it('requires AWS settings only for the aws provider', () => {
    expect(() => loadConfig(WorkerConfig, { PROVIDER: 'aws' })).toThrow(/AWS_REGION/);
  });

  it('reads the simulator command as a JSON array', () => {
    expect(loadConfig(WorkerConfig, { SIMULATOR_COMMAND: '["gz","sim","-s","world.sdf"]' }).SIMULATOR_COMMAND).toEqual([
      'gz',
      'sim',
      '-s',
      'world.sdf',
    ]);
    expect(() => loadConfig(WorkerConfig, { SIMULATOR_COMMAND: 'gz sim' })).toThrow(/SIMULATOR_COMMAND: .*JSON array/);
  });

  it('needs a JWT secret of at least 32 characters unless a JWKS URL is given', () => {
    expect(() => loadConfig(GatewayConfig, {})).toThrow(/JWT_SECRET/);
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: 'short' })).toThrow(/JWT_SECRET: .*32 characters/);
    expect(loadConfig(GatewayConfig, { JWT_SECRET: SECRET }).PORT).toBe(3000);
    expect(loadConfig(GatewayConfig, { JWKS_URL: 'https://idp.example/.well-known/jwks.json', ACCESS_TOKEN_SECRET: SECRET }).JWT_SECRET).toBeUndefined();
  });

  it('signs access tokens with a key of their own: derived from JWT_SECRET by default, required with JWKS_URL alone, never JWT_SECRET itself', () => {
    expect(loadConfig(GatewayConfig, { JWT_SECRET: SECRET })).toMatchObject({ ACCESS_TOKEN_TTL_S: 600, ACCESS_CHECK_INTERVAL_MS: 5000 });
    expect(loadConfig(GatewayConfig, { JWT_SECRET: SECRET }).ACCESS_TOKEN_SECRET).toBeUndefined();
    expect(() => loadConfig(GatewayConfig, { JWKS_URL: 'https://idp.example/.well-known/jwks.json' })).toThrow(
      /ACCESS_TOKEN_SECRET: .*required with JWKS_URL and no JWT_SECRET.*\(not set\)/,
    );
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, ACCESS_TOKEN_SECRET: SECRET })).toThrow(/ACCESS_TOKEN_SECRET: must differ from JWT_SECRET/);
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, ACCESS_TOKEN_SECRET: 'short' })).toThrow(/ACCESS_TOKEN_SECRET: must be at least 32 characters/);
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, ACCESS_TOKEN_TTL_S: '5' })).toThrow(/ACCESS_TOKEN_TTL_S/);
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, PUBLIC_URL: 'sim.example.com' })).toThrow(/PUBLIC_URL: must be the http\(s\) URL/);
  });

  it('gives the gateway the provider settings, so it finds simulators and logs where the workers put them', () => {
    const config = loadConfig(GatewayConfig, { JWT_SECRET: SECRET, LOCAL_STATE_DIR: '/srv/sim', LOG_ARCHIVE_S3_BUCKET: 'sim-logs', AWS_REGION: 'eu-west-1' });
    expect(config).toMatchObject({ LOCAL_STATE_DIR: '/srv/sim', LOG_ARCHIVE_S3_BUCKET: 'sim-logs', LOG_ARCHIVE_S3_PREFIX: 'simdeploy/logs/', K8S_NAMESPACE: 'simdeploy' });
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, LOG_ARCHIVE_S3_BUCKET: 'sim-logs' })).toThrow(/AWS_REGION: .*LOG_ARCHIVE_S3_BUCKET/);
    expect(() => loadConfig(WorkerConfig, { LOG_ARCHIVE_S3_BUCKET: 'Sim_Logs', AWS_REGION: 'eu-west-1' })).toThrow(/LOG_ARCHIVE_S3_BUCKET: must be an S3 bucket name/);
  });

  it('reads where the read model lives, SQLite by default, and names a bad URL', () => {
    expect(loadConfig(WorkerConfig, {}).READ_MODEL_URL).toBe('sqlite:.simdeploy/read-model.sqlite');
    expect(loadConfig(WorkerConfig, { READ_MODEL_URL: 'postgres://simdeploy@db:5432/simdeploy' }).READ_MODEL_URL).toMatch(/^postgres:/);
    expect(() => loadConfig(WorkerConfig, { READ_MODEL_URL: 'mysql://db' })).toThrow(/READ_MODEL_URL: must be sqlite:PATH .*postgres:\/\/.*\(got "mysql:\/\/db"\)/);
    const gateway = loadConfig(GatewayConfig, { JWT_SECRET: SECRET });
    expect(gateway).toMatchObject({ READ_MODEL_PROJECTOR: true, READ_MODEL_BATCH_SIZE: 1000, READ_YOUR_WRITES_MS: 2000 });
    expect(loadConfig(GatewayConfig, { JWT_SECRET: SECRET, READ_MODEL_PROJECTOR: 'false' }).READ_MODEL_PROJECTOR).toBe(false);
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, READ_MODEL_PROJECTOR: 'sometimes' })).toThrow(/READ_MODEL_PROJECTOR/);
  });

  it('bounds the live stream: heartbeat and per-client buffer', () => {
    const config = loadConfig(GatewayConfig, { JWT_SECRET: SECRET });
    expect([config.SSE_HEARTBEAT_MS, config.SSE_CLIENT_BUFFER_BYTES]).toEqual([15_000, 1024 * 1024]);
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, SSE_HEARTBEAT_MS: '10' })).toThrow(/SSE_HEARTBEAT_MS: .*milliseconds/);
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, SSE_CLIENT_BUFFER_BYTES: 'lots' })).toThrow(/SSE_CLIENT_BUFFER_BYTES: .*bytes/);
  });

  it('takes dashboard sign-in tokens only for a gateway on loopback', () => {
    const tokens = '{"user":"aaa.bbb.ccc"}';
    expect(loadConfig(GatewayConfig, { JWT_SECRET: SECRET, DASHBOARD_LOCAL_TOKENS: tokens }).DASHBOARD_LOCAL_TOKENS).toEqual({ user: 'aaa.bbb.ccc' });
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, HOST: '0.0.0.0', DASHBOARD_LOCAL_TOKENS: tokens })).toThrow(
      /DASHBOARD_LOCAL_TOKENS: .*only allowed with a loopback HOST/,
    );
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, DASHBOARD_LOCAL_TOKENS: 'user=abc' })).toThrow(/DASHBOARD_LOCAL_TOKENS: .*JSON object/);
    expect(() => loadConfig(GatewayConfig, { JWT_SECRET: SECRET, DASHBOARD_LOCAL_TOKENS: '{"user":"not a jwt"}' })).toThrow(/DASHBOARD_LOCAL_TOKENS: .*map names to JWTs/);
  });
});

describe('observability settings', () => {
  it('METRICS_PORT defaults to 0 (no port) and must be a TCP port', () => {
    expect(loadConfig(WorkerConfig, {}).METRICS_PORT).toBe(0);
    expect(loadConfig(WorkerConfig, { METRICS_PORT: '9464' }).METRICS_PORT).toBe(9464);
    expect(() => loadConfig(WorkerConfig, { METRICS_PORT: '70000' })).toThrow(/METRICS_PORT.*\(got "70000"\)/);
  });

  it('OTEL_EXPORTER_OTLP_ENDPOINT is off by default and must be an http(s) URL when set', () => {
    expect(loadConfig(GatewayConfig, { JWT_SECRET: 'x'.repeat(32) }).OTEL_EXPORTER_OTLP_ENDPOINT).toBeUndefined();
    expect(loadConfig(WorkerConfig, { OTEL_EXPORTER_OTLP_ENDPOINT: 'http://otel-collector:4318' }).OTEL_EXPORTER_OTLP_ENDPOINT).toBe('http://otel-collector:4318');
    expect(() => loadConfig(WorkerConfig, { OTEL_EXPORTER_OTLP_ENDPOINT: 'otel-collector:4318' })).toThrow(/OTEL_EXPORTER_OTLP_ENDPOINT: must be the http\(s\) URL/);
  });
});
