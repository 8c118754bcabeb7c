/**
 * Lifecycles/s with 1, 2 and 3 launcher and terminator replicas, in one run against one private
 * nats-server: the real services (dist/, started by tools/start.mjs --replicas) on the local
 * runtime, and each replica's CPU from its own /metrics (process_cpu_seconds_total).
 *
 * Run:  npm run build && node bench/run.cjs bench/scale/replicas-bench.ts [--quick]
 * BENCH_LIFECYCLES (default 150, 40 with --quick) and BENCH_CLIENTS (default 16) size each round.
 *
 * On a machine with fewer cores than processes, more replicas add coordination, not CPU: the
 * figures show where the work goes, and whether anything is lost by spreading it.
 */
import { startNatsServer, uniqueName } from '@simdeploy/testing';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { SignJWT } from 'jose';

const root = resolve(__dirname, '..', '..');
const quick = parseArgs({ options: { quick: { type: 'boolean', default: false } } }).values.quick === true;
const LIFECYCLES = Number(process.env['BENCH_LIFECYCLES'] ?? (quick ? 40 : 150));
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 16);
const POLL_MS = 20;
const SECRET = 'bench-secret-with-at-least-32-characters';
const SIMULATOR = JSON.stringify(['sh', '-c', 'touch "$SIMDEPLOY_READY_FILE"; exec sleep 100000']);
const simulation = { world: 'worlds/bench.sdf', image: 'gazebo/gz-sim:harmonic', robots: [], nodeInstanceType: 'c5.large' };

interface Started {
  url: string;
  metrics: Record<string, string>;
  stop(): Promise<void>;
}

async function startSystem(natsUrl: string, replicas: number): Promise<Started> {
  const stateDir = mkdtempSync(join(tmpdir(), 'simdeploy-scale-bench-'));
  const child = spawn(
    process.execPath,
    [join(root, 'tools/start.mjs'), '--no-build', '--port', '0', '--json', '--nats-url', natsUrl, '--state-dir', stateDir, '--replicas', `launcher=${replicas},terminator=${replicas}`],
    {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        JWT_SECRET: SECRET,
        LOG_LEVEL: 'warn',
        RATE_LIMIT_MAX: '0',
        SIMULATOR_COMMAND: SIMULATOR,
        READINESS_POLL_MS: '100',
        EVENTS_STREAM: uniqueName('BENCH_EVENTS'),
        EVENTS_SUBJECT_PREFIX: uniqueName('benchev').toLowerCase(),
        COMMANDS_STREAM: uniqueName('BENCH_CMDS'),
        COMMANDS_SUBJECT_PREFIX: uniqueName('benchcmd').toLowerCase(),
        LEADER_LEASE_BUCKET: uniqueName('bench_leases'),
      },
    },
  );
  const tail: string[] = [];
  createInterface({ input: child.stderr }).on('line', (line) => tail.push(line) > 40 && tail.shift());
  const exited = new Promise<void>((done) => child.once('exit', () => done()));
  const ready = await new Promise<{ url: string; metrics: Record<string, string> }>((done, fail) => {
    createInterface({ input: child.stdout }).once('line', (line) => done(JSON.parse(line)));
    child.once('exit', (code) => fail(new Error(`start.mjs exited (${code}):\n${tail.join('\n')}`)));
  });
  return {
    ...ready,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
}

async function cpuSeconds(base: string): Promise<number> {
  const text = await (await fetch(`${base}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('process_cpu_seconds_total'));
  return line ? Number(line.split(/\s+/).pop()) : Number.NaN;
}

async function lifecycles(url: string, token: string, total: number): Promise<{ seconds: number; failed: number }> {
  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${url}${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
      ...(body ? { body: JSON.stringify(body) } : {}),
    });
    return (await response.json()) as { id: string; status: string; errorStatus: string | null };
  };
  const until = async (id: string, status: string) => {
    for (;;) {
      const view = await call('GET', `/simulations/${id}`);
      if (view.status === status || view.errorStatus !== null) return view.errorStatus === null;
      await new Promise((r) => setTimeout(r, POLL_MS));
    }
  };
  let next = 0;
  let failed = 0;
  const started = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: CLIENTS }, async () => {
      while (next < total) {
        next += 1;
        const { id } = await call('POST', '/simulations', simulation);
        const ran = await until(id, 'Running');
        await call('POST', `/simulations/${id}/stop`);
        if (!(ran && (await until(id, 'Terminated')))) failed += 1;
      }
    }),
  );
  return { seconds: Number(process.hrtime.bigint() - started) / 1e9, failed };
}

async function main(): Promise<void> {
  const nats = await startNatsServer();
  const token = await new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256' }).setSubject('bench').setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
  process.stdout.write(`${LIFECYCLES} lifecycles per round, ${CLIENTS} clients, ${cpus().length} cores, Node ${process.versions.node}\n\n`);
  const rows: string[] = [];
  try {
    for (const replicas of [1, 2, 3]) {
      const system = await startSystem(nats.url, replicas);
      try {
        await lifecycles(system.url, token, Math.min(10, LIFECYCLES)); // warm-up: JIT, connections, first leases
        const names = Object.keys(system.metrics).sort();
        const before = await Promise.all(names.map((n) => cpuSeconds(system.metrics[n] as string)));
        const { seconds, failed } = await lifecycles(system.url, token, LIFECYCLES);
        const after = await Promise.all(names.map((n) => cpuSeconds(system.metrics[n] as string)));
        const cpu = names.map((n, i) => `${n} ${(((after[i] as number) - (before[i] as number)) / seconds * 100).toFixed(0)}%`);
        rows.push(`${replicas} x launcher + ${replicas} x terminator: ${(LIFECYCLES / seconds).toFixed(1)} lifecycles/s (${seconds.toFixed(1)} s, ${failed} failed)\n    CPU of one core per process: ${cpu.join(', ')}`);
        process.stdout.write(`${rows[rows.length - 1]}\n`);
      } finally {
        await system.stop();
      }
    }
  } finally {
    await nats.stop();
  }
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
