import { findNatsServerBin, startNatsServer, type NatsServerHandle } from './nats-server';

declare global {
  // Shared with jest-global-teardown.ts, which Jest runs in the same process.
  var __SIMDEPLOY_NATS__: NatsServerHandle | undefined;
}

/**
 * Runs once per Jest invocation. Tests get NATS_URL (a private nats-server
 * with JetStream, unless the caller already set NATS_URL) and NATS_SERVER_BIN
 * (for tests that start, kill -9 and restart servers of their own).
 */
export default async function globalSetup(): Promise<void> {
  if (process.env['NATS_URL']) {
    try {
      process.env['NATS_SERVER_BIN'] ??= findNatsServerBin();
    } catch {
      // A given NATS_URL is enough for most tests; those that need the binary say so.
    }
    return;
  }
  process.env['NATS_SERVER_BIN'] = findNatsServerBin();
  const server = await startNatsServer();
  globalThis.__SIMDEPLOY_NATS__ = server;
  process.env['NATS_URL'] = server.url;
}
