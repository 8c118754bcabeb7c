import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect, NatsConnection } from '@nats-io/transport-node';
import { GatewayConfig, loadConfig } from '@simdeploy/config';
import { uniqueName } from '@simdeploy/testing';
import type { ProviderRegistry } from '@simdeploy/workflows';
import { SignJWT } from 'jose';
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
  close(): Promise<void>;
}

/** The gateway listening on a free port, on stream names no other test uses; close() deletes them. */
export async function startTestGateway(prefix: string, options: { env?: Record<string, string>; registry?: ProviderRegistry } = {}): Promise<TestGateway> {
  const config = loadConfig(GatewayConfig, {
    NATS_URL: process.env['NATS_URL'],
    JWT_SECRET: SECRET,
    EVENTS_STREAM: uniqueName(`${prefix}_EVENTS`),
    EVENTS_SUBJECT_PREFIX: uniqueName(`${prefix}ev`).toLowerCase(),
    COMMANDS_STREAM: uniqueName(`${prefix}_CMDS`),
    COMMANDS_SUBJECT_PREFIX: uniqueName(`${prefix}cmd`).toLowerCase(),
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
    async close() {
      await app.close();
      const jsm = await jetstreamManager(nc);
      await jsm.streams.delete(config.EVENTS_STREAM).catch(() => undefined);
      await jsm.streams.delete(config.COMMANDS_STREAM).catch(() => undefined);
      await nc.close();
    },
  };
}
