/**
 * The persisted read model at growing history sizes, every figure from one run.
 *
 * Run:  node bench/run.cjs bench/read-model/read-model-bench.ts [--sizes 10000,100000,1000000] [--seconds 10] [--no-build]
 * Needs nats-server (PATH, /usr/sbin or $NATS_SERVER_BIN) and the gateway built into dist/ (the
 * script runs `npm run build` first unless --no-build). For each size it starts a private
 * nats-server and:
 *
 *   seed     writes finished lifecycles (85% launched-ran-stopped, 10% rolled back, 5% rejected),
 *            one event per append as the services write them, interleaved over 512 deployments in
 *            flight: each round appends the next event of every deployment in flight at once
 *            (pipelined publishes, ANY_REVISION since the bench alone writes each stream)
 *   raw      reads the whole stream with an ordered consumer, no decoding: the baseline
 *   rebuild  rebuilds a SQLite read model from the events (the `rebuild` command's code path)
 *   start    starts the built gateway over that projection: time to /health/ready, its RSS
 *   load     50 concurrent clients (autocannon) list 20 of one user's deployments, then get
 *            random ones of theirs, --seconds each; p50/p99 and requests/s; RSS after
 */
import { connect } from '@nats-io/transport-node';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { openReadModel, rebuildReadModel } from '@simdeploy/read-model';
import { freePort, lifecycle, startNatsServer, type Outcome } from '@simdeploy/testing';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import { spawn, spawnSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { rawRead, writeInterleaved } from '../support/jetstream-load';

const root = resolve(__dirname, '../..');
const { values: args } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,100000,1000000' },
    seconds: { type: 'string', default: '10' },
    'no-build': { type: 'boolean', default: false },
  },
});
const SIZES = (args.sizes as string).split(',').map(Number);
const SECONDS = Number(args.seconds);
const IN_FLIGHT = 512;
const OWNERS = 100;
const SECRET = 'bench-secret-with-at-least-32-characters';
const STREAM = 'BENCH_EVENTS';
const PREFIX = 'benchev';

const say = (line: string) => process.stderr.write(`[bench] ${line}\n`);
const rate = (n: number, ms: number) => Math.round((n * 1000) / ms);

function outcomeOf(i: number): Outcome {
  const r = i % 20;
  return r < 17 ? 'finished' : r < 19 ? 'rolled-back' : 'rejected';
}

/** Appends lifecycles until `events` events are stored; returns the deployment ids by owner. */
async function seed(store: JetStreamEventStore, events: number): Promise<{ byOwner: Map<string, string[]>; ms: number; stored: number }> {
  const started = Date.now();
  const byOwner = new Map<string, string[]>();
  let planned = 0;
  let n = 0;
  const t0 = Date.parse('2025-01-01T00:00:00.000Z');
  const next = () => {
    if (planned >= events) return null;
    const id = randomUUID();
    const owner = `user-${n % OWNERS}`;
    const lc = lifecycle({ id, owner, requestedAt: t0 + n * 7_000, outcome: outcomeOf(n), labels: { team: n % 3 === 0 ? 'nav' : 'arm', env: 'prod' } });
    n++;
    const take = lc.slice(0, events - planned);
    planned += take.length;
    const own = byOwner.get(owner) ?? [];
    own.push(id);
    byOwner.set(owner, own);
    return { id, events: take };
  };
  await writeInterleaved(store, next, IN_FLIGHT);
  return { byOwner, ms: Date.now() - started, stored: planned };
}


const rssMb = (pid: number): number => {
  const match = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return match ? Math.round(Number(match[1]) / 1024) : NaN;
};

async function startGateway(natsUrl: string, readModelUrl: string) {
  const port = await freePort();
  const started = Date.now();
  // BENCH_GATEWAY_NODE_OPTIONS: e.g. --cpu-prof --cpu-prof-dir=/tmp/prof, to see where a request's time goes.
  const nodeArgs = (process.env['BENCH_GATEWAY_NODE_OPTIONS'] ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, join(root, 'dist/apps/gateway/src/main.js')], {
    cwd: root,
    env: {
      ...process.env,
      NATS_URL: natsUrl,
      EVENTS_STREAM: STREAM,
      EVENTS_SUBJECT_PREFIX: PREFIX,
      COMMANDS_STREAM: 'BENCH_CMDS',
      COMMANDS_SUBJECT_PREFIX: 'benchcmd',
      READ_MODEL_URL: readModelUrl,
      JWT_SECRET: SECRET,
      PORT: String(port),
      RATE_LIMIT_MAX: '0',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`the gateway exited (${child.exitCode})`);
    const ok = await fetch(`${base}/health/ready`).then((r) => r.ok, () => false);
    if (ok) break;
    if (Date.now() - started > 120_000) throw new Error('the gateway was not ready after 120 s');
    await new Promise((r) => setTimeout(r, 20));
  }
  return { child, base, readyMs: Date.now() - started };
}

async function load(base: string, auth: string, path: () => string): Promise<{ p50: number; p99: number; rps: number; errors: number }> {
  const result = await autocannon({
    url: base,
    connections: 50,
    duration: SECONDS,
    headers: { authorization: `Bearer ${auth}` },
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: path() }) }],
  });
  return { p50: result.latency.p50, p99: result.latency.p99, rps: Math.round(result.requests.average), errors: result.non2xx + result.errors };
}

interface Row {
  events: number;
  deployments: number;
  seedPerS: number;
  rawPerS: number;
  rebuildPerS: number;
  readyMs: number;
  rssReady: number;
  rssLoaded: number;
  list: Awaited<ReturnType<typeof load>>;
  get: Awaited<ReturnType<typeof load>>;
}

async function runSize(size: number): Promise<Row> {
  const nats = await startNatsServer();
  const dir = mkdtempSync(join(tmpdir(), 'simdeploy-rm-bench-'));
  try {
    const nc = await connect({ servers: nats.url });
    const store = await JetStreamEventStore.create(nc, { streamName: STREAM, subjectPrefix: PREFIX });
    say(`${size}: seeding`);
    const seeded = await seed(store, size);
    const deployments = [...seeded.byOwner.values()].reduce((a, ids) => a + ids.length, 0);
    say(`${size}: ${seeded.stored} events of ${deployments} deployments in ${seeded.ms} ms; raw read`);
    const raw = await rawRead(nats.url, STREAM);

    say(`${size}: rebuild`);
    const readModelUrl = `sqlite:${join(dir, 'read-model.sqlite')}`;
    const readModel = await openReadModel(readModelUrl);
    await readModel.migrate();
    const rebuilt = await rebuildReadModel(store, readModel, { batchSize: 2000 });
    await readModel.close();
    await nc.close();

    say(`${size}: gateway start and load`);
    const gateway = await startGateway(nats.url, readModelUrl);
    try {
      const rssReady = rssMb(gateway.child.pid as number);
      const owner = 'user-7';
      const ids = seeded.byOwner.get(owner) ?? [];
      const auth = await new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256' }).setSubject(owner).setExpirationTime('1h').sign(new TextEncoder().encode(SECRET));
      const list = await load(gateway.base, auth, () => '/simulations?limit=20');
      const get = await load(gateway.base, auth, () => `/simulations/${ids[Math.floor(Math.random() * ids.length)]}`);
      return {
        events: raw.events,
        deployments,
        seedPerS: rate(seeded.stored, seeded.ms),
        rawPerS: rate(raw.events, raw.ms),
        rebuildPerS: rebuilt.eventsPerSecond,
        readyMs: gateway.readyMs,
        rssReady,
        rssLoaded: rssMb(gateway.child.pid as number),
        list,
        get,
      };
    } finally {
      gateway.child.kill('SIGTERM');
      await new Promise((r) => gateway.child.once('exit', r));
    }
  } finally {
    await nats.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (!args['no-build']) {
    say('building (npm run build)');
    if (spawnSync('npm', ['run', '--silent', 'build'], { cwd: root, stdio: 'inherit' }).status !== 0) throw new Error('build failed');
  }
  const rows: Row[] = [];
  for (const size of SIZES) rows.push(await runSize(size));
  const lines = [
    '| events | deployments | seed ev/s | raw read ev/s | rebuild ev/s | rebuild / raw | start to ready | RSS ready / after load | list p50 / p99 (req/s) | get p50 / p99 (req/s) | errors |',
    '| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows.map(
      (r) =>
        `| ${r.events.toLocaleString('en')} | ${r.deployments.toLocaleString('en')} | ${r.seedPerS.toLocaleString('en')} | ${r.rawPerS.toLocaleString('en')} | ${r.rebuildPerS.toLocaleString('en')} | ${Math.round((100 * r.rebuildPerS) / r.rawPerS)}% | ${r.readyMs} ms | ${r.rssReady} / ${r.rssLoaded} MB | ${r.list.p50} / ${r.list.p99} ms (${r.list.rps}) | ${r.get.p50} / ${r.get.p99} ms (${r.get.rps}) | ${r.list.errors + r.get.errors} |`,
    ),
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  process.exit(1);
});
