export default async function globalTeardown(): Promise<void> {
  const server = globalThis.__SIMDEPLOY_NATS__;
  if (!server) return;
  globalThis.__SIMDEPLOY_NATS__ = undefined;
  delete process.env['NATS_URL'];
  await server.stop();
}
