#!/usr/bin/env node
// Brings the whole system up on this machine, on the embedded defaults:
//   nats-server with JetStream (the command bus and the event store), the gateway (which
//   projects the events into the SQLite read model in the state folder), the
//   launcher, the terminator and the error handler, and the local runtime (nodes are
//   slots here, pods are child processes running the simulator command).
// Prints the gateway URL and ready-to-use tokens. Ctrl-C stops everything, pods included.
//
//   npm start [-- --port 3000] [--state-dir .simdeploy] [--nats-url nats://...] [--no-build]
//             [--no-restart] [--json] [--replicas launcher=3,terminator=2] [--log-format pretty|json]
//
// Each worker replica gets a free port for /metrics, /health and /health/ready (METRICS_PORT);
// --json prints them. Services log JSON lines; they are shown readable unless --log-format json.
//
// Any service setting (POOL_SIZE, LOCAL_BOOT_DELAY_MS, SIMULATOR_COMMAND, ...) can be set in
// the environment; see the README.
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import { parseArgs } from 'node:util';

const root = path.resolve(path.dirname(new URL(import.meta.url).pathname), '..');
const SERVICES = ['gateway', 'launcher', 'terminator', 'error-handler'];

const { values: args } = parseArgs({
  options: {
    port: { type: 'string', default: process.env.PORT ?? '3000' },
    'state-dir': { type: 'string', default: path.join(root, '.simdeploy') },
    'nats-url': { type: 'string' },
    'no-build': { type: 'boolean', default: false },
    'no-restart': { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    replicas: { type: 'string', default: '' },
    'log-format': { type: 'string', default: 'pretty' },
  },
});

const WORKERS = ['launcher', 'terminator', 'error-handler'];

/** `launcher=3,terminator=2` -> how many processes of each service (one by default). */
function parseReplicas(value) {
  const counts = Object.fromEntries(SERVICES.map((name) => [name, 1]));
  for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
    const [name, count] = item.split('=');
    if (!WORKERS.includes(name) || !/^[1-9]\d*$/.test(count ?? '')) {
      process.stderr.write(`[start] --replicas: expected <worker>=<count>[,...] with a worker among ${WORKERS.join(', ')}; got "${item}"\n`);
      process.exit(2);
    }
    counts[name] = Number(count);
  }
  return counts;
}
const replicas = parseReplicas(args.replicas);
if (!['pretty', 'json'].includes(args['log-format'])) {
  process.stderr.write(`[start] --log-format must be pretty or json; got "${args['log-format']}"\n`);
  process.exit(2);
}
/** The first replica keeps the service's name; the others are <name>-2, <name>-3... */
const replicaName = (service, index) => (index === 0 ? service : `${service}-${index + 1}`);

const stateDir = path.resolve(args['state-dir']);
const say = (line) => process.stderr.write(`[start] ${line}\n`);
const children = new Map();
let stopping = false;

function fail(message) {
  say(message);
  process.exit(1);
}

function run(command, commandArgs, options = {}) {
  const result = spawnSync(command, commandArgs, { cwd: root, stdio: ['ignore', 'inherit', 'inherit'], ...options });
  return result.status === 0;
}

function findNatsServer() {
  const dirs = (process.env.PATH ?? '').split(path.delimiter).concat('/usr/sbin', '/usr/local/bin');
  return dirs.map((d) => path.join(d, 'nats-server')).find((p) => existsSync(p));
}

function ensureNatsServer() {
  let bin = findNatsServer();
  if (bin) return bin;
  const isRoot = process.getuid?.() === 0;
  if (existsSync('/usr/bin/apt-get') && isRoot) {
    say('nats-server not found: installing the Debian package nats-server');
    run('apt-get', ['update']);
    run('apt-get', ['install', '-y', 'nats-server'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    bin = findNatsServer();
  }
  if (!bin) fail('nats-server is missing. Install it with: sudo apt-get install -y nats-server (or put nats-server 2.9+ on PATH)');
  return bin;
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

function portOpen(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1');
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

async function until(check, timeoutMs, what) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} not ready after ${timeoutMs} ms`);
}

const LEVEL_COLOURS = { trace: 90, debug: 36, info: 32, warn: 33, error: 31, fatal: 35 };
const PRETTY_SKIP = new Set(['level', 'time', 'msg', 'service', 'pid', 'context', 'hostname']);

/** A service's JSON log line as one readable line: time, level, context, message, then the ids it carries. */
function prettyLine(line) {
  if (!line.startsWith('{')) return line;
  let entry;
  try {
    entry = JSON.parse(line);
  } catch {
    return line;
  }
  if (typeof entry.msg !== 'string' || typeof entry.level !== 'string') return line;
  const time = typeof entry.time === 'string' ? entry.time.slice(11, 23) : '';
  const colour = process.stderr.isTTY ? LEVEL_COLOURS[entry.level] : undefined;
  const level = entry.level.toUpperCase().padEnd(5);
  const fields = Object.entries(entry)
    .filter(([key]) => !PRETTY_SKIP.has(key))
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`);
  return [time, colour ? `\x1b[${colour}m${level}\x1b[0m` : level, entry.context ? `[${entry.context}]` : '', entry.msg, ...fields]
    .filter(Boolean)
    .join(' ');
}

function prefixOutput(name, stream, target) {
  let buffer = '';
  const format = args['log-format'] === 'pretty' ? prettyLine : (line) => line;
  stream.on('data', (chunk) => {
    buffer += chunk;
    const lines = buffer.split('\n');
    buffer = lines.pop();
    for (const line of lines) target.write(`[${name}] ${format(line)}\n`);
  });
}

/** Starts a process and, unless told otherwise, restarts it if it dies (a crash, a kill -9). */
function supervise(name, command, commandArgs, env) {
  let restarts = 0;
  const start = () => {
    const child = spawn(command, commandArgs, { cwd: root, env, stdio: ['ignore', 'pipe', 'pipe'] });
    children.set(name, child);
    writePids();
    prefixOutput(name, child.stdout, process.stderr);
    prefixOutput(name, child.stderr, process.stderr);
    const startedAt = Date.now();
    child.on('exit', (code, signal) => {
      if (stopping) return;
      say(`${name} exited (${signal ?? code})`);
      if (args['no-restart'] || code === 2) return; // 2: bad configuration, restarting would not help
      // Back off only while it keeps failing at start on its own; a process that was killed,
      // or ran a while, restarts at once.
      restarts = signal !== null || Date.now() - startedAt > 10_000 ? 0 : restarts + 1;
      setTimeout(start, Math.min(5000, 200 * restarts));
    });
  };
  start();
}

/** The current pid of every process, for operators and for the chaos test that kills them. */
function writePids() {
  const pids = Object.fromEntries([...children].map(([name, child]) => [name, child.pid]));
  writeFileSync(path.join(stateDir, 'pids.json'), JSON.stringify(pids));
}

function signToken(secret, subject, roles) {
  // jose is one of the gateway's dependencies; loaded from the project's node_modules.
  const require = createRequire(path.join(root, 'package.json'));
  const { SignJWT } = require('jose');
  return new SignJWT({ roles })
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject(subject)
    .setIssuedAt()
    .setExpirationTime('30d')
    .sign(new TextEncoder().encode(secret));
}

function jwtSecret() {
  if (process.env.JWT_SECRET) return process.env.JWT_SECRET;
  const file = path.join(stateDir, 'jwt-secret');
  if (!existsSync(file)) writeFileSync(file, randomBytes(32).toString('hex'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
}

async function stopAll(exitCode) {
  if (stopping) return;
  stopping = true;
  say('stopping');
  const services = [...children].filter(([name]) => name !== 'nats-server').map(([, child]) => child);
  await Promise.all(services.map((child) => terminate(child, 10_000)));
  try {
    const require = createRequire(path.join(root, 'package.json'));
    const { releaseAndKillAll } = require(path.join(root, 'dist/libs/cloud/src/local/runtime-owner.js'));
    await releaseAndKillAll(path.join(stateDir, 'local'), 5_000);
  } catch (error) {
    say(`stopping simulator processes: ${error.message}`);
  }
  const nats = children.get('nats-server');
  if (nats) await terminate(nats, 10_000);
  process.exit(exitCode);
}

function terminate(child, graceMs) {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), graceMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

async function main() {
  mkdirSync(stateDir, { recursive: true });
  if (!existsSync(path.join(root, 'node_modules'))) {
    say('installing dependencies (npm ci)');
    if (!run('npm', ['ci', '--no-audit', '--no-fund'])) fail('npm ci failed');
  }
  // The embedded read model's SQLite driver is a native addon: make sure it is built.
  if (!run(process.execPath, [path.join(root, 'tools/ensure-native.cjs')])) fail('the SQLite driver (better-sqlite3) could not be built');
  if (!args['no-build']) {
    say('building');
    if (!run('npm', ['run', '--silent', 'build'])) fail('build failed');
  }

  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  let natsUrl = args['nats-url'];
  if (!natsUrl) {
    const bin = ensureNatsServer();
    const natsPort = await freePort();
    const store = path.join(stateDir, 'nats');
    mkdirSync(store, { recursive: true });
    supervise('nats-server', bin, ['-js', '-a', '127.0.0.1', '-p', String(natsPort), '-sd', store], process.env);
    await until(() => portOpen(natsPort), 15_000, 'nats-server');
    natsUrl = `nats://127.0.0.1:${natsPort}`;
  }

  const port = args.port === '0' ? await freePort() : Number(args.port);
  const localStateDir = path.join(stateDir, 'local');
  mkdirSync(localStateDir, { recursive: true });
  // This process owns the local runtime: simulator processes stop when it goes away.
  const require = createRequire(path.join(root, 'package.json'));
  const { claimOwnership } = require(path.join(root, 'dist/libs/cloud/src/local/runtime-owner.js'));
  await claimOwnership(localStateDir);

  const secret = jwtSecret();
  const [adminToken, userToken] = await Promise.all([signToken(secret, 'admin', ['admin']), signToken(secret, 'user', [])]);
  const host = process.env.HOST ?? '127.0.0.1';
  const env = {
    ...process.env,
    NATS_URL: natsUrl,
    JWT_SECRET: secret,
    PORT: String(port),
    HOST: host,
    LOCAL_STATE_DIR: localStateDir,
    LOG_ARCHIVE_DIR: process.env.LOG_ARCHIVE_DIR ?? path.join(stateDir, 'logs'),
    // The gateway projects into this file; the error handler reads it beside it.
    READ_MODEL_URL: process.env.READ_MODEL_URL ?? `sqlite:${path.join(stateDir, 'read-model.sqlite')}`,
  };
  // The dashboard offers these for sign-in, on a loopback-only endpoint of this machine's gateway.
  const gatewayEnv = /^(127\.|::1$|localhost$)/.test(host) ? { ...env, DASHBOARD_LOCAL_TOKENS: JSON.stringify({ admin: adminToken, user: userToken }) } : env;
  const metrics = {};
  for (const service of SERVICES) {
    for (let index = 0; index < replicas[service]; index++) {
      const name = replicaName(service, index);
      const serviceEnv = { ...(service === 'gateway' ? gatewayEnv : env) };
      if (WORKERS.includes(service)) {
        const metricsPort = await freePort();
        serviceEnv.METRICS_PORT = String(metricsPort);
        serviceEnv.METRICS_HOST = '127.0.0.1';
        metrics[name] = `http://127.0.0.1:${metricsPort}`;
      }
      supervise(name, process.execPath, [path.join(root, `dist/apps/${service}/src/main.js`)], serviceEnv);
    }
  }

  const url = `http://127.0.0.1:${port}`;
  metrics.gateway = url;
  const ready = (base) => async () => (await fetch(`${base}/health/ready`).catch(() => null))?.ok;
  await Promise.all(Object.entries(metrics).map(([name, base]) => until(ready(base), 60_000, name)));
  const pids = Object.fromEntries([...children].map(([name, child]) => [name, child.pid]));
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ url, dashboardUrl: `${url}/`, natsUrl, adminToken, userToken, pids, metrics })}\n`);
  } else {
    process.stdout.write(
      [
        '',
        `simdeploy is up: ${url}  (API docs: ${url}/docs, metrics: ${url}/metrics)`,
        `  dashboard: ${url}/  (sign in with one of the tokens below, offered there too)`,
        `  workers' metrics and health: ${Object.entries(metrics).filter(([name]) => name !== 'gateway').map(([name, base]) => `${name} ${base}/metrics`).join(', ')}`,
        '',
        `  export SIMDEPLOY_URL=${url}`,
        `  export ADMIN_TOKEN=${adminToken}`,
        `  export USER_TOKEN=${userToken}`,
        '',
        'Ctrl-C stops everything.',
        '',
      ].join('\n'),
    );
  }
}

main().catch((error) => {
  say(error.message);
  void stopAll(1);
});
