import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { uniqueName } from '@simdeploy/testing';
import { SignJWT } from 'jose';

const ROOT = resolve(__dirname, '../../..');
export const JWT_SECRET = 'e2e-secret-with-at-least-32-characters';

export interface RunningSystem {
  url: string;
  natsUrl: string;
  stateDir: string;
  /** The stream names this system runs on, for a test that reads or writes the store itself. */
  streams: { EVENTS_STREAM: string; EVENTS_SUBJECT_PREFIX: string; COMMANDS_STREAM: string; COMMANDS_SUBJECT_PREFIX: string };
  pids: Record<string, number>;
  /** Each process's metrics and health base URL (the gateway's is its API URL), by replica name. */
  metrics: Record<string, string>;
  /** The output of start.mjs and every service, for diagnosing a failure. */
  log: string[];
  token(subject: string, roles?: string[]): Promise<string>;
  /** SIGTERM to start.mjs, which stops the services, the pods and its nats-server. */
  stop(): Promise<void>;
}

/**
 * Brings the system up the way a user does (tools/start.mjs, from the build in dist/), on
 * its own stream names so nothing is shared with other tests.
 */
export async function startSystem(
  env: Record<string, string> = {},
  options: { ownNats?: boolean; args?: string[] } = {},
): Promise<RunningSystem> {
  const stateDir = mkdtempSync(join(tmpdir(), 'simdeploy-e2e-'));
  const natsArgs = options.ownNats ? [] : ['--nats-url', process.env['NATS_URL'] as string];
  const streams = {
    EVENTS_STREAM: uniqueName('E2E_EVENTS'),
    EVENTS_SUBJECT_PREFIX: uniqueName('e2eev').toLowerCase(),
    COMMANDS_STREAM: uniqueName('E2E_CMDS'),
    COMMANDS_SUBJECT_PREFIX: uniqueName('e2ecmd').toLowerCase(),
  };
  const child = spawn(
    process.execPath,
    [join(ROOT, 'tools/start.mjs'), '--no-build', '--port', '0', '--state-dir', stateDir, '--json', ...natsArgs, ...(options.args ?? [])],
    {
      cwd: ROOT,
      env: { ...process.env, JWT_SECRET, LOG_LEVEL: 'warn', READINESS_POLL_MS: '100', RATE_LIMIT_MAX: '0', ...streams, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  const { stdout, stderr } = child;
  const log: string[] = [];
  createInterface({ input: stderr }).on('line', (line) => log.push(line));
  const exited = new Promise<void>((done) => child.once('exit', () => done()));

  const ready = await new Promise<{ url: string; natsUrl: string; pids: Record<string, number>; metrics: Record<string, string> }>((done, fail) => {
    const timer = setTimeout(() => fail(new Error(`system did not start within 60 s:\n${log.slice(-30).join('\n')}`)), 60_000);
    createInterface({ input: stdout }).once('line', (line) => {
      clearTimeout(timer);
      done(JSON.parse(line));
    });
    child.once('exit', (code) => fail(new Error(`start.mjs exited (${code}):\n${log.slice(-30).join('\n')}`)));
  });

  return {
    ...ready,
    stateDir,
    streams,
    log,
    token: (subject, roles = []) =>
      new SignJWT({ roles })
        .setProtectedHeader({ alg: 'HS256' })
        .setSubject(subject)
        .setExpirationTime('1h')
        .sign(new TextEncoder().encode(JWT_SECRET)),
    async stop() {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
      if (!options.ownNats) {
        const nc = await connect({ servers: ready.natsUrl });
        const jsm = await jetstreamManager(nc);
        for (const name of [streams.EVENTS_STREAM, streams.COMMANDS_STREAM]) await jsm.streams.delete(name).catch(() => undefined);
        await nc.close();
      }
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

export interface Api {
  (method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<{ status: number; json: any }>;
}

export const api =
  (url: string, token: string): Api =>
  async (method, path, body, headers = {}) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return { status: response.status, json: text ? JSON.parse(text) : undefined };
  };

/** Processes on this machine that belong to one of the deployments (pods and their supervisors). */
export function processesOf(deploymentIds: readonly string[]): number[] {
  const wanted = new Set(deploymentIds);
  const found: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const id = environ.find((v) => v.startsWith('SIMDEPLOY_DEPLOYMENT_ID='))?.split('=')[1];
      if (id && wanted.has(id)) found.push(Number(entry));
    } catch {
      // gone meanwhile, or not ours to read
    }
  }
  return found;
}
