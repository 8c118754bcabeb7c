import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, NatsConnection } from '@nats-io/transport-node';
import { GatewayConfig, loadConfig } from '@simdeploy/config';
import { uniqueName } from '@simdeploy/testing';
import type { ProviderRegistry } from '@simdeploy/workflows';
import { SignJWT } from 'jose';
import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createGatewayApp } from '../../src/app/create-app';

export const SECRET = 'test-secret-with-at-least-32-characters!';

export const token = (sub: string, roles: string[] = [], secret = SECRET): Promise<string> =>
  new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(sub)
    .setIssuedAt()
    .setExpirationTime('1h')
    .sign(new TextEncoder().encode(secret));

export interface TestGateway {
  app: NestFastifyApplication;
  /** http://127.0.0.1:<port> */
  base: string;
  config: GatewayConfig;
  /** A connection of the test's own, to look at the streams. */
  nc: NatsConnection;
  /** Stops the app only: streams and the read model stay, for another gateway over them. */
  stopApp(): Promise<void>;
  close(): Promise<void>;
}

export interface TestGatewayOptions {
  /** Settings on top of the test's own (another gateway over the same streams and read model, say). */
  env?: Record<string, string | undefined>;
  /** Providers instead of those the configuration names (the access and logs tests bring a fake simulator). */
  registry?: ProviderRegistry;
}

/**
 * The gateway listening on a free port, on stream names and a SQLite read model no other test
 * uses; close() deletes them.
 */
export async function startTestGateway(prefix: string, options: TestGatewayOptions = {}): Promise<TestGateway> {
  const dir = options.env?.['READ_MODEL_URL'] ? null : await fs.mkdtemp(join(tmpdir(), 'simdeploy-gw-'));
  const config = loadConfig(GatewayConfig, {
    NATS_URL: process.env['NATS_URL'],
    JWT_SECRET: SECRET,
    EVENTS_STREAM: uniqueName(`${prefix}_EVENTS`),
    EVENTS_SUBJECT_PREFIX: uniqueName(`${prefix}ev`).toLowerCase(),
    COMMANDS_STREAM: uniqueName(`${prefix}_CMDS`),
    COMMANDS_SUBJECT_PREFIX: uniqueName(`${prefix}cmd`).toLowerCase(),
    ...(dir ? { READ_MODEL_URL: `sqlite:${join(dir, 'read-model.sqlite')}` } : {}),
    // Tests send many requests as one caller; the rate limit's own test turns it on.
    RATE_LIMIT_MAX: '0',
    ...options.env,
  });
  const app = await createGatewayApp(config, { logger: false, registry: options.registry });
  await app.listen(0, '127.0.0.1');
  const base = (await app.getUrl()).replace('[::1]', '127.0.0.1');
  const nc = await connect({ servers: config.NATS_URL });
  return {
    app,
    base,
    config,
    nc,
    stopApp: () => app.close(),
    async close() {
      await app.close();
      if (dir) await fs.rm(dir, { recursive: true, force: true });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(config.EVENTS_STREAM).catch(() => undefined);
      await jsm.streams.delete(config.COMMANDS_STREAM).catch(() => undefined);
      await nc.close();
    },
  };
}
