/**
 * The lifecycle before and after the process decider (issue 8), in one run against one private
 * nats-server: the same HTTP workload through a baseline build (default: the last commit before
 * the decider, 3c3f4d3) and the current build, each service counting its provider calls and its
 * event-store reads and appends (bench/lifecycle/count-calls.cjs, preloaded into both builds).
 *
 * Run:  npm run build && node bench/run.cjs bench/lifecycle/decider-bench.ts [--baseline <git ref>] [--quick]
 *
 *   (A) K clients, each launch -> Running -> stop -> Terminated, no boot delay   - lifecycles/s, calls per lifecycle
 *   (B) N launches at once, machines booting B s, then all stopped              - what waiting costs
 */
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { startNatsServer, uniqueName, type NatsServerHandle } from '@simdeploy/testing';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  live,
  launch,
  pollUntil,
  root,
  seconds,
  sleep,
  snapshotBuild,
  startSystem,
  stopSimulation,
  throughput,
  waitAll,
  type System,
} from '../support/system';

const { values: args } = parseArgs({
  options: { baseline: { type: 'string', default: '3c3f4d3' }, quick: { type: 'boolean', default: false } },
});
const quick = args.quick === true;
const CLIENTS = 16;
const LIFECYCLES = quick ? 60 : 240;
const WAITING = quick ? 40 : 100;
const BOOT_MS = quick ? 3_000 : 6_000;
const WAIT_POLL_MS = 250;
const WORKERS = ['launcher', 'terminator', 'error-handler'];
const COUNTER = join(root, 'bench/lifecycle/count-calls.cjs');

interface Counts {
  /** Per service: operation -> calls. */
  byService: Record<string, Record<string, number>>;
}

/** Reads what count-calls.cjs wrote, summed per service (a service may have restarted). */
function readCounts(dir: string): Counts {
  const byService: Record<string, Record<string, number>> = {};
  for (const file of readdirSync(dir).filter((f) => f.endsWith('.json'))) {
    const { argv, counts } = JSON.parse(readFileSync(join(dir, file), 'utf8')) as { argv: string[]; counts: Record<string, number> };
    const service = /apps\/([a-z-]+)\/src\/main\.js/.exec(argv.join(' '))?.[1];
    if (!service) continue;
    const into = (byService[service] ??= {});
    for (const [name, n] of Object.entries(counts)) into[name] = (into[name] ?? 0) + n;
  }
  return { byService };
}

/** Every counter summed over the workers. */
function totals(result: PhaseResult): Record<string, number> {
  const sum: Record<string, number> = {};
  for (const service of WORKERS) for (const [name, n] of Object.entries(result.counts.byService[service] ?? {})) sum[name] = (sum[name] ?? 0) + n;
  return sum;
}

/** Sums a counter over the workers (launcher, terminator, error handler). */
const workers = (counts: Counts, filter: (name: string) => boolean): number =>
  WORKERS.reduce((sum, service) => sum + Object.entries(counts.byService[service] ?? {}).filter(([n]) => filter(n)).reduce((s, [, n]) => s + n, 0), 0);

const provider = (name: string) => name.startsWith('provider.') && !['provider.listManagedInstances', 'provider.listManagedWorkloads', 'provider.shutdown'].includes(name);

interface PhaseResult {
  perSecond?: number;
  seconds: number;
  lifecycles: number;
  counts: Counts;
}

/** Runs `body` on a fresh system of `build`, counting calls; stops it and collects the counts. */
async function counted(build: string, natsUrl: string, env: Record<string, string>, body: (system: System) => Promise<{ lifecycles: number; ms: number }>): Promise<PhaseResult> {
  const dir = mkdtempSync(join(tmpdir(), 'simdeploy-bench-counts-'));
  const nodeOptions = `${process.env['NODE_OPTIONS'] ?? ''} --require ${COUNTER}`.trim();
  const system = await startSystem(build, natsUrl, { ...env, NODE_OPTIONS: nodeOptions, SIMDEPLOY_CALL_COUNTS_DIR: dir });
  try {
    const { lifecycles, ms } = await body(system);
    // The counters flush every half second.
    await sleep(1_500);
    return { seconds: ms / 1000, lifecycles, perSecond: (lifecycles / ms) * 1000, counts: readCounts(dir) };
  } finally {
    await system.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

/** (A): K clients doing whole lifecycles as fast as they can. */
function lifecyclePhase(build: string, natsUrl: string): Promise<PhaseResult> {
  return counted(build, natsUrl, { LOCAL_BOOT_DELAY_MS: '0', READINESS_POLL_MS: '50' }, async (system) => {
    const deadline = Date.now() + 180_000;
    let started = 0;
    const begin = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (started < LIFECYCLES) {
          started++;
          const { id } = await launch(system);
          await pollUntil(system, id, 'Running', deadline);
          await stopSimulation(system, id);
          await pollUntil(system, id, 'Terminated', deadline);
        }
      }),
    );
    return { lifecycles: LIFECYCLES, ms: performance.now() - begin };
  });
}

/** (B): many launches waiting for booting machines at once, then all stopped. */
function waitingPhase(build: string, natsUrl: string): Promise<PhaseResult> {
  return counted(build, natsUrl, { LOCAL_BOOT_DELAY_MS: String(BOOT_MS), READINESS_POLL_MS: String(WAIT_POLL_MS) }, async (system) => {
    const begin = performance.now();
    const ids = (await Promise.all(Array.from({ length: WAITING }, () => launch(system)))).map((v) => v.id);
    await waitAll(system, ids, 'Running', Date.now() + BOOT_MS + 120_000);
    await Promise.all(ids.map((id) => stopSimulation(system, id)));
    await waitAll(system, ids, 'Terminated', Date.now() + 120_000);
    return { lifecycles: WAITING, ms: performance.now() - begin };
  });
}

async function rawPublishes(natsUrl: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const stream = uniqueName('RAW');
  await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
  try {
    const js = jetstream(nc);
    return await throughput(64, 3_000, (w) => js.publish(`${stream}.${w}`, '{"type":"Bench","data":{}}'));
  } finally {
    await jsm.streams.delete(stream).catch(() => undefined);
    await nc.close();
  }
}

/** A build of `ref` in tmp/, sharing this checkout's node_modules (the baseline's dependencies are a subset). */
function buildBaseline(ref: string): { dir: string; remove: () => void } {
  mkdirSync(join(root, 'tmp'), { recursive: true });
  const dir = join(root, 'tmp', `bench-baseline-${ref}`);
  if (existsSync(dir)) execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: root });
  execFileSync('git', ['worktree', 'add', '--detach', dir, ref], { cwd: root, stdio: 'ignore' });
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'dir');
  const bin = (name: string) => join(root, 'node_modules', '.bin', name);
  execFileSync(bin('tsc'), ['-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  execFileSync(bin('tsc-alias'), ['-p', 'tsconfig.build.json'], { cwd: dir, stdio: 'inherit' });
  return { dir, remove: () => execFileSync('git', ['worktree', 'remove', '--force', dir], { cwd: root }) };
}

const per = (n: number, of: number) => (of > 0 ? n / of : NaN);
const fmt = (n: number, digits = 1) => (Number.isFinite(n) ? n.toFixed(digits) : '-');

function report(name: string, before: PhaseResult, after: PhaseResult, raw: number): void {
  const rows: [string, (r: PhaseResult) => number, number][] = [
    ['lifecycles/s', (r) => r.perSecond ?? NaN, 2],
    ['  x raw publishes/s', (r) => (r.perSecond ?? NaN) / raw, 5],
    ['provider calls per lifecycle (workers)', (r) => per(workers(r.counts, provider), r.lifecycles), 1],
    ['  createWorkload per lifecycle', (r) => per(workers(r.counts, (n) => n === 'provider.createWorkload'), r.lifecycles), 2],
    ['  checkNodes per lifecycle', (r) => per(workers(r.counts, (n) => n === 'provider.checkNodes'), r.lifecycles), 1],
    ['  checkWorkload per lifecycle', (r) => per(workers(r.counts, (n) => n === 'provider.checkWorkload'), r.lifecycles), 1],
    ['  deleteWorkload per lifecycle', (r) => per(workers(r.counts, (n) => n === 'provider.deleteWorkload'), r.lifecycles), 1],
    ['appends per lifecycle (workers)', (r) => per(workers(r.counts, (n) => n === 'store.append'), r.lifecycles), 1],
    ['stream reads per lifecycle (workers)', (r) => per(workers(r.counts, (n) => n === 'store.readStream'), r.lifecycles), 1],
    ['stream reads per append (workers)', (r) => per(workers(r.counts, (n) => n === 'store.readStream'), workers(r.counts, (n) => n === 'store.append')), 2],
  ];
  console.log(`\n${name}`);
  console.log(`    ${'measure'.padEnd(42)} ${'baseline'.padStart(10)} ${'current'.padStart(10)} ${'current/baseline'.padStart(17)}`);
  for (const [label, value, digits] of rows) {
    const b = value(before);
    const a = value(after);
    console.log(`    ${label.padEnd(42)} ${fmt(b, digits).padStart(10)} ${fmt(a, digits).padStart(10)} ${fmt(a / b, 2).padStart(17)}`);
  }
  console.log(`    wall time: baseline ${seconds(before.seconds * 1000)}, current ${seconds(after.seconds * 1000)}`);
  const operations = new Set([...Object.keys(totals(before)), ...Object.keys(totals(after))].filter(provider));
  const line = (r: PhaseResult) =>
    [...operations].sort().map((op) => `${op.slice('provider.'.length)} ${fmt(per(totals(r)[op] ?? 0, r.lifecycles), 2)}`).join(', ');
  console.log(`    provider calls per lifecycle by operation, baseline: ${line(before)}`);
  console.log(`    provider calls per lifecycle by operation, current:  ${line(after)}`);
}

async function main(): Promise<void> {
  const baseline = buildBaseline(args.baseline as string);
  const builds = { baseline: snapshotBuild(baseline.dir), current: snapshotBuild() };
  let server: NatsServerHandle | undefined;
  const cleanUp = async () => {
    await Promise.allSettled([...live].map((system) => system.stop()));
    await server?.stop();
    for (const dir of Object.values(builds)) rmSync(dir, { recursive: true, force: true });
    baseline.remove();
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    server = await startNatsServer();
    const raw = await rawPublishes(server.url);
    console.log(`nats-server at ${server.url}; baseline ${args.baseline}; ${quick ? 'quick' : 'full'} run`);
    console.log(`raw JetStream acked publishes, 64 in flight: ${raw.toFixed(0)}/s`);
    const a = { baseline: await lifecyclePhase(builds.baseline, server.url), current: await lifecyclePhase(builds.current, server.url) };
    report(`(A) ${LIFECYCLES} lifecycles by ${CLIENTS} clients, no boot delay, READINESS_POLL_MS=50, no robots (1 pod)`, a.baseline, a.current, raw);
    const b = { baseline: await waitingPhase(builds.baseline, server.url), current: await waitingPhase(builds.current, server.url) };
    report(`(B) ${WAITING} launches at once, machines booting ${BOOT_MS / 1000} s, READINESS_POLL_MS=${WAIT_POLL_MS}, then all stopped`, b.baseline, b.current, raw);
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
