/**
 * Whole simulation lifecycles through the REST API, every figure from one run against one
 * private nats-server: the real gateway, launcher, terminator and error handler (dist/, started
 * by tools/start.mjs) on the local runtime, with pods as real processes.
 *
 * Run:  npm run build && node bench/run.cjs bench/lifecycle/http-bench.ts [--quick]
 * Needs nats-server (PATH, /usr/sbin or $NATS_SERVER_BIN). --quick shrinks every phase (~1 min).
 * BENCH_SECONDS sets the baseline's length (default 4); BENCH_CLIENTS the clients of (2) (default 16).
 *
 *   (1) raw JetStream acked publishes, 64 in flight                        - the baseline
 *   (2) launch -> Running -> stop -> Terminated, K clients, no boot delay   - lifecycles/s
 *   (3) N launches at once with a slow boot on a small worker pool          - waiting holds no worker
 */
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { JetStreamEventStore } from '@simdeploy/event-store';
import { startNatsServer, uniqueName, type NatsServerHandle } from '@simdeploy/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

const root = resolve(__dirname, '..', '..');
const quick = parseArgs({ options: { quick: { type: 'boolean', default: false } } }).values.quick === true;

const BASELINE_WINDOW = 64;
const BASELINE_MS = Number(process.env['BENCH_SECONDS'] ?? (quick ? 2 : 4)) * 1000;
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 16);
const LIFECYCLES = quick ? 60 : 300;
const CLIENT_POLL_MS = 20;
const LIFECYCLE_PHASE_MS = quick ? 60_000 : 150_000;
const LAUNCHES = quick ? 40 : 200;
const BOOT_DELAY_MS = quick ? 10_000 : 30_000;
const POOL_SIZE = 10;
const WAIT_POLL_MS = 1000;
const LIST_POLL_MS = 250;
/** A pod is a Node supervisor plus the simulator; generous, so the estimate errs on the safe side. */
const POD_MB_ESTIMATE = 60;
const MEMORY_MARGIN_MB = 2048;

const CHEAP_SIMULATOR = ['sh', '-c', 'touch "$SIMDEPLOY_READY_FILE"; exec sleep 100000'];

interface View {
  id: string;
  status: string;
  errorStatus: string | null;
  failureReason: string | null;
}
interface RecordedEventView {
  type: string;
  data: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// The system under test, as an operator starts it

interface System {
  url: string;
  token: string;
  stateDir: string;
  /** The services' pids by name (and nats-server's when start.mjs started one). */
  pids: Record<string, number>;
  stop(): Promise<void>;
}

const live = new Set<System>();

function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** The simulator command the services get: the bundled one once it is a shell script, else a one-line shell stand-in. */
function simulatorEnv(): { env: Record<string, string>; label: string } {
  if (process.env['SIMULATOR_COMMAND']) return { env: {}, label: `SIMULATOR_COMMAND=${process.env['SIMULATOR_COMMAND']}` };
  const shellTools = readdirSync(join(root, 'tools', 'simulator')).filter((f) => f.endsWith('.sh'));
  if (shellTools.length > 0) return { env: {}, label: `bundled default (tools/simulator: ${shellTools.join(', ')})` };
  return { env: { SIMULATOR_COMMAND: JSON.stringify(CHEAP_SIMULATOR) }, label: `SIMULATOR_COMMAND=${JSON.stringify(CHEAP_SIMULATOR)}` };
}

/**
 * A private copy of what start.mjs runs (dist/, tools/, with node_modules linked): another
 * engineer's `npm run build` begins with rm -rf dist, which would pull the services out from
 * under a running bench. Returns the copy's root; the caller removes it.
 */
function snapshotBuild(): string {
  if (!existsSync(join(root, 'dist/apps/gateway/src/main.js'))) throw new Error('dist/ is missing: run npm run build first');
  const copy = mkdtempSync(join(tmpdir(), 'simdeploy-bench-build-'));
  for (const path of ['dist', 'tools/start.mjs', 'tools/simulator', 'package.json']) cpSync(join(root, path), join(copy, path), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
}

/**
 * `node tools/start.mjs --json` on the given nats-server, with its own streams so nothing an
 * earlier system wrote is replayed. Resolves once the gateway is ready.
 */
async function startSystem(build: string, natsUrl: string, env: Record<string, string>): Promise<System> {
  const stateDir = mkdtempSync(join(tmpdir(), 'simdeploy-bench-'));
  const log = createWriteStream(join(stateDir, 'services.log'));
  const names = uniqueName('bench').replace(/[^A-Za-z0-9_-]/g, '_');
  const child = spawn(
    process.execPath,
    [join(build, 'tools/start.mjs'), '--no-build', '--no-restart', '--port', '0', '--state-dir', stateDir, '--nats-url', natsUrl, '--json'],
    {
      cwd: build,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: {
        ...process.env,
        LOG_LEVEL: 'warn',
        EVENTS_STREAM: `${names}_EVENTS`,
        EVENTS_SUBJECT_PREFIX: `${names}.evt`,
        COMMANDS_STREAM: `${names}_COMMANDS`,
        COMMANDS_SUBJECT_PREFIX: `${names}.cmd`,
        ...env,
      },
    },
  );
  child.stderr?.pipe(log);
  let pids: Record<string, number> = {};
  const stop = async (): Promise<void> => {
    live.delete(system);
    child.kill('SIGTERM');
    if (!(await exited(child, 30_000))) {
      for (const pid of Object.values(pids)) killQuietly(pid, 'SIGKILL');
      child.kill('SIGKILL');
      await exited(child, 5_000);
      throw new Error(`tools/start.mjs did not stop within 30 s; killed (log: ${join(stateDir, 'services.log')})`);
    }
    log.end();
    // start.mjs exits 0 after a clean stop; otherwise its log is kept for a look.
    if (child.exitCode === 0) rmSync(stateDir, { recursive: true, force: true });
    else console.error(`tools/start.mjs ended with ${child.signalCode ?? child.exitCode}; log kept: ${join(stateDir, 'services.log')}`);
  };
  const system: System = { url: '', token: '', stateDir, pids, stop };
  live.add(system);

  const ready = await new Promise<{ url: string; userToken: string; pids: Record<string, number> }>((done, fail) => {
    let buffered = '';
    const timer = setTimeout(() => fail(new Error('tools/start.mjs printed no JSON line within 60 s')), 60_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      buffered += chunk.toString();
      const line = buffered.split('\n').find((l) => l.startsWith('{'));
      if (!line) return;
      clearTimeout(timer);
      try {
        done(JSON.parse(line));
      } catch (error) {
        fail(error);
      }
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      fail(new Error(`tools/start.mjs exited (${signal ?? code}) before the gateway was ready; log: ${join(stateDir, 'services.log')}`));
    });
  });
  pids = ready.pids;
  system.pids = pids;
  system.url = ready.url;
  system.token = ready.userToken;
  return system;
}

let requests = 0;

async function api<T>(system: System, method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
  requests++;
  const response = await fetch(`${system.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${system.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(15_000),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

const launchBody = { world: 'worlds/bench.sdf', image: 'gazebo/gz-sim:bench', robots: [], nodeInstanceType: 'm5.large' };
const launch = (system: System) => api<View>(system, 'POST', '/simulations', launchBody);
const stopSimulation = (system: System, id: string) => api<View>(system, 'POST', `/simulations/${id}/stop`);

// ---------------------------------------------------------------------------------------------
// Measuring

const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

const spread = (ms: number[]) =>
  `p50 ${percentile(ms, 0.5).toFixed(0).padStart(5)} ms   p99 ${percentile(ms, 0.99).toFixed(0).padStart(5)} ms   max ${Math.max(...ms).toFixed(0).padStart(5)} ms`;

/** Keeps `window` operations in flight for `durationMs`; returns completed operations per second. */
async function throughput(window: number, durationMs: number, op: (worker: number) => Promise<unknown>): Promise<number> {
  const end = Date.now() + durationMs;
  let done = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: window }, async (_, worker) => {
      while (Date.now() < end) {
        await op(worker);
        done++;
      }
    }),
  );
  return done / ((performance.now() - started) / 1000);
}

/** Runs `op` over `items` with at most `limit` in flight. */
async function inBatches<T, R>(items: readonly T[], limit: number, op: (item: T) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const i = next++;
        results[i] = await op(items[i]);
      }
    }),
  );
  return results;
}

/** Polls GET /simulations/:id until it shows `status`; a failure or a deadline throws. */
async function pollUntil(system: System, id: string, status: string, deadline: number): Promise<void> {
  for (;;) {
    const view = await api<View>(system, 'GET', `/simulations/${id}`);
    if (view.errorStatus) throw new Error(`simulation ${id} is ${view.status}/${view.errorStatus}: ${view.failureReason}`);
    if (view.status === status) return;
    if (Date.now() > deadline) throw new Error(`simulation ${id} still ${view.status}, not ${status}, at the deadline`);
    await sleep(CLIENT_POLL_MS);
  }
}

/** Milliseconds between two events of one simulation's history, from the timestamps the services recorded. */
function eventSpan(history: RecordedEventView[], from: [string, string], to: [string, string]): { start: number; end: number } {
  const at = ([type, field]: [string, string]) => {
    const event = history.find((e) => e.type === type);
    if (!event || typeof event.data[field] !== 'string') throw new Error(`no ${type}.${field} in the history`);
    return Date.parse(event.data[field] as string);
  };
  return { start: at(from), end: at(to) };
}
/** When each event happened, by the timestamp its service recorded in it. */
const happenedAt = (e: RecordedEventView): number => Date.parse(String(e.data['at'] ?? e.data['requestedAt']));

const LAUNCH_PATH = ['SimulationRequested', 'NodesLaunchStarted', 'InstanceLaunched', 'PodsLaunchStarted', 'SimulationRunning'];

/** p50 / p99 of the time between consecutive events of the launch path: where the time to Running goes. */
function launchBreakdown(all: RecordedEventView[][]): string {
  return LAUNCH_PATH.slice(1)
    .map((type, i) => {
      const gaps = all.map((h) => {
        const from = h.find((e) => e.type === LAUNCH_PATH[i]);
        const to = h.find((e) => e.type === type);
        return from && to ? happenedAt(to) - happenedAt(from) : NaN;
      });
      return `-> ${type} ${percentile(gaps, 0.5).toFixed(0)}/${percentile(gaps, 0.99).toFixed(0)}`;
    })
    .join('  ');
}

/** CPU seconds (user + system) a process has used so far; Linux counts them in 1/100 s. */
function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Starts counting the services' CPU; the returned function says what each used since. */
function cpuMeter(system: System, processes: Record<string, number> = {}): () => string {
  const all = { ...system.pids, ...processes };
  const before = Object.fromEntries(Object.entries(all).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return () =>
    Object.entries(all)
      .map(([name, pid]) => `${name} ${(cpuSeconds(pid) - before[name]).toFixed(1)}`)
      .join(', ');
}

const REQUESTED: [string, string] = ['SimulationRequested', 'requestedAt'];
const RUNNING: [string, string] = ['SimulationRunning', 'at'];
const STOP_REQUESTED: [string, string] = ['StopRequested', 'at'];
const TERMINATED: [string, string] = ['SimulationTerminated', 'at'];

async function histories(system: System, ids: readonly string[]): Promise<RecordedEventView[][]> {
  return inBatches(ids, 16, (id) => api<RecordedEventView[]>(system, 'GET', `/simulations/${id}/events`));
}

interface PodProcess {
  pid: number;
  rssKb: number;
  command: string;
}

/** Every process on this machine whose environment names one of these deployments. */
async function podProcesses(ids: ReadonlySet<string>): Promise<PodProcess[]> {
  const found = await Promise.all(
    readdirSync('/proc')
      .filter((entry) => /^\d+$/.test(entry))
      .map(async (entry): Promise<PodProcess | null> => {
        try {
          const environ = await readFile(`/proc/${entry}/environ`, 'latin1');
          const label = environ.split('\0').find((v) => v.startsWith('SIMDEPLOY_DEPLOYMENT_ID='));
          if (!label || !ids.has(label.slice('SIMDEPLOY_DEPLOYMENT_ID='.length))) return null;
          const status = await readFile(`/proc/${entry}/status`, 'utf8');
          const command = (await readFile(`/proc/${entry}/cmdline`, 'utf8')).split('\0').join(' ').trim();
          return { pid: Number(entry), rssKb: Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0), command };
        } catch {
          return null; // gone meanwhile, or not ours to read
        }
      }),
  );
  return found.filter((p): p is PodProcess => p !== null);
}

/** The private nats-server's pid (the test helper does not expose it), found by its command line. */
function natsServerPid(port: number): number {
  const pid = readdirSync('/proc').find((entry) => {
    if (!/^\d+$/.test(entry)) return false;
    try {
      const args = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      return args[0].endsWith('nats-server') && args[args.indexOf('-p') + 1] === String(port);
    } catch {
      return false;
    }
  });
  return Number(pid ?? NaN);
}

function memAvailableMb(): number {
  const kb = /MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return Math.floor(Number(kb ?? 0) / 1024);
}

/** Polls the list until every one of `ids` shows `status`; returns when that was first seen. Any failure throws. */
async function waitAll(system: System, ids: readonly string[], status: string, deadline: number): Promise<number> {
  const wanted = new Set(ids);
  for (;;) {
    const list = await api<{ items: View[] }>(system, 'GET', `/simulations?limit=500`);
    const mine = list.items.filter((v) => wanted.has(v.id));
    const failed = mine.find((v) => v.errorStatus);
    if (failed) throw new Error(`simulation ${failed.id} is ${failed.status}/${failed.errorStatus}: ${failed.failureReason}`);
    const reached = mine.filter((v) => v.status === status).length;
    if (reached === wanted.size) return performance.now();
    if (Date.now() > deadline) {
      const counts: Record<string, number> = {};
      for (const v of mine) counts[v.status] = (counts[v.status] ?? 0) + 1;
      throw new Error(`${reached}/${wanted.size} ${status} at the deadline; statuses: ${JSON.stringify(counts)}`);
    }
    await sleep(LIST_POLL_MS);
  }
}

// ---------------------------------------------------------------------------------------------
// The three phases

async function rawPublishes(natsUrl: string): Promise<number> {
  const nc = await connect({ servers: natsUrl });
  const streamName = uniqueName('BENCH');
  const subjectPrefix = uniqueName('bench');
  const store = await JetStreamEventStore.create(nc, { streamName, subjectPrefix });
  try {
    const js = jetstream(nc);
    const payload = JSON.stringify([{ type: 'Bench', data: { n: 1, text: 'x'.repeat(100) }, metadata: {} }]);
    return await throughput(BASELINE_WINDOW, BASELINE_MS, (w) => js.publish(`${subjectPrefix}.raw-${w}`, payload));
  } finally {
    await store.close();
    await (await jetstreamManager(nc)).streams.delete(streamName).catch(() => undefined);
    await nc.close();
  }
}

async function lifecycles(build: string, natsUrl: string, natsPid: number, simulator: Record<string, string>, raw: number): Promise<void> {
  const system = await startSystem(build, natsUrl, { ...simulator, LOCAL_BOOT_DELAY_MS: '0', READINESS_POLL_MS: '50' });
  const ids: string[] = [];
  const clientToRunning: number[] = [];
  try {
    const deadline = Date.now() + LIFECYCLE_PHASE_MS;
    let started = 0;
    const cpu = cpuMeter(system, { 'nats-server': natsPid, bench: process.pid });
    const requestsBefore = requests;
    const begin = performance.now();
    await Promise.all(
      Array.from({ length: CLIENTS }, async () => {
        while (started < LIFECYCLES) {
          started++;
          const posted = performance.now();
          const { id } = await launch(system);
          ids.push(id);
          await pollUntil(system, id, 'Running', deadline);
          clientToRunning.push(performance.now() - posted);
          await stopSimulation(system, id);
          await pollUntil(system, id, 'Terminated', deadline);
        }
      }),
    );
    const elapsed = performance.now() - begin;
    const cpuUsed = cpu();
    const httpRequests = requests - requestsBefore;
    const perSecond = (LIFECYCLES / elapsed) * 1000;

    const all = await histories(system, ids);
    const toRunning = all.map((h) => eventSpan(h, REQUESTED, RUNNING)).map((s) => s.end - s.start);
    const toTerminated = all.map((h) => eventSpan(h, STOP_REQUESTED, TERMINATED)).map((s) => s.end - s.start);
    const leftovers = await podProcesses(new Set(ids));

    console.log(`\n(2) full lifecycles through HTTP: ${CLIENTS} clients, ${LIFECYCLES} lifecycles, boot delay 0, READINESS_POLL_MS=50, robots: [] (1 pod each)`);
    console.log(`    ${LIFECYCLES} lifecycles in ${seconds(elapsed)}: ${perSecond.toFixed(1)} lifecycles/s = ${(perSecond / raw).toFixed(4)}x raw publishes/s (1/${(raw / perSecond).toFixed(0)})`);
    const eventsPerLifecycle = all.reduce((sum, h) => sum + h.length, 0) / all.length;
    const eventsPerSecond = eventsPerLifecycle * perSecond;
    console.log(`    ${eventsPerLifecycle.toFixed(1)} events a lifecycle: ${eventsPerSecond.toFixed(0)} events appended/s = ${(eventsPerSecond / raw).toFixed(4)}x raw publishes/s`);
    console.log(`    POST -> Running, client polling GET every ${CLIENT_POLL_MS} ms:  ${spread(clientToRunning)}`);
    console.log(`    POST -> Running, exact (SimulationRequested.requestedAt -> SimulationRunning.at): ${spread(toRunning)}`);
    console.log(`    stop -> Terminated, exact (StopRequested.at -> SimulationTerminated.at):          ${spread(toTerminated)}`);
    console.log(`    launch path, p50/p99 ms between events: ${launchBreakdown(all)}`);
    console.log(`    load: ${httpRequests} HTTP requests (${((httpRequests / elapsed) * 1000).toFixed(0)}/s, mostly status polls); CPU seconds used in ${seconds(elapsed)} on ${cpus().length} CPUs: ${cpuUsed}`);
    console.log(`    pod processes left after the run: ${leftovers.length}`);
    if (leftovers.length > 0) throw new Error(`pods left running: ${leftovers.map((p) => `${p.pid} ${p.command}`).join('; ')}`);
  } finally {
    await system.stop();
  }
}

async function waitingHoldsNoWorker(build: string, natsUrl: string, simulator: Record<string, string>): Promise<void> {
  const availableMb = memAvailableMb();
  const affordable = Math.floor((availableMb - MEMORY_MARGIN_MB) / POD_MB_ESTIMATE);
  const launches = Math.min(LAUNCHES, affordable);
  console.log(`\n(3) ${launches} launches at once: LOCAL_BOOT_DELAY_MS=${BOOT_DELAY_MS}, POOL_SIZE=${POOL_SIZE}, READINESS_POLL_MS=${WAIT_POLL_MS}, robots: [] (fresh streams)`);
  console.log(`    memory available before: ${availableMb} MB`);
  if (launches < LAUNCHES) console.log(`    only ${launches} of ${LAUNCHES} launches: ~${POD_MB_ESTIMATE} MB a pod would not fit`);
  if (launches < 1) throw new Error('not enough memory for even one pod');

  const system = await startSystem(build, natsUrl, {
    ...simulator,
    LOCAL_BOOT_DELAY_MS: String(BOOT_DELAY_MS),
    POOL_SIZE: String(POOL_SIZE),
    READINESS_POLL_MS: String(WAIT_POLL_MS),
  });
  try {
    const cpu = cpuMeter(system);
    const begin = performance.now();
    const ids = (await Promise.all(Array.from({ length: launches }, () => launch(system)))).map((v) => v.id);
    const accepted = performance.now();
    const running = await waitAll(system, ids, 'Running', Date.now() + BOOT_DELAY_MS + 120_000);
    const cpuToRunning = cpu();
    const pods = await podProcesses(new Set(ids));
    const rssMb = pods.reduce((sum, p) => sum + p.rssKb, 0) / 1024;

    const stopBegin = performance.now();
    await Promise.all(ids.map((id) => stopSimulation(system, id)));
    const terminated = await waitAll(system, ids, 'Terminated', Date.now() + 120_000);
    const leftovers = await podProcesses(new Set(ids));

    const all = await histories(system, ids);
    const launchSpans = all.map((h) => eventSpan(h, REQUESTED, RUNNING));
    const stopSpans = all.map((h) => eventSpan(h, STOP_REQUESTED, TERMINATED));
    const exactRunning = Math.max(...launchSpans.map((s) => s.end)) - Math.min(...launchSpans.map((s) => s.start));
    const exactTerminated = Math.max(...stopSpans.map((s) => s.end)) - Math.min(...stopSpans.map((s) => s.start));
    const serialBound = Math.ceil(launches / POOL_SIZE) * BOOT_DELAY_MS;

    console.log(`    all ${launches} POSTs answered 202 in ${seconds(accepted - begin)}`);
    console.log(`    all ${launches} Running after ${seconds(running - begin)} (client, list polled every ${LIST_POLL_MS} ms); exact first request -> last SimulationRunning: ${seconds(exactRunning)}`);
    console.log(`      ideal (every boot in parallel): ${seconds(BOOT_DELAY_MS)}   serial bound if a worker held its slot while waiting (${launches}/${POOL_SIZE} x ${BOOT_DELAY_MS / 1000} s): ${seconds(serialBound)}   => ${(serialBound / exactRunning).toFixed(1)}x faster than the bound`);
    console.log(`      per simulation, exact request -> Running: ${spread(launchSpans.map((s) => s.end - s.start))}`);
    console.log(`      launch path, p50/p99 ms between events: ${launchBreakdown(all)}`);
    console.log(`      CPU seconds used until all Running: ${cpuToRunning}`);
    console.log(`    pods while all Running: ${pods.length} processes, ${rssMb.toFixed(0)} MB RSS in all (${(rssMb / launches).toFixed(1)} MB a pod)`);
    console.log(`    all ${launches} Terminated after ${seconds(terminated - stopBegin)} (client); exact first StopRequested -> last SimulationTerminated: ${seconds(exactTerminated)}`);
    console.log(`    pod processes left after Terminated (scan of /proc for SIMDEPLOY_DEPLOYMENT_ID of these ${launches}): ${leftovers.length}`);
    if (leftovers.length > 0) throw new Error(`pods left running: ${leftovers.map((p) => `${p.pid} ${p.command}`).join('; ')}`);
  } finally {
    await system.stop();
  }
}

async function main(): Promise<void> {
  const simulator = simulatorEnv();
  const build = snapshotBuild();
  let server: NatsServerHandle | undefined;
  const cleanUp = async () => {
    await Promise.allSettled([...live].map((system) => system.stop()));
    await server?.stop();
    rmSync(build, { recursive: true, force: true });
  };
  process.once('SIGINT', () => void cleanUp().finally(() => process.exit(130)));
  try {
    server = await startNatsServer();
    console.log(`nats-server at ${server.url}; ${quick ? 'quick' : 'full'} run; simulator: ${simulator.label}`);
    const raw = await rawPublishes(server.url);
    console.log(`\n(1) raw JetStream acked publish, ${BASELINE_WINDOW} in flight, ${BASELINE_MS / 1000} s: ${raw.toFixed(0)} publishes/s`);
    await lifecycles(build, server.url, natsServerPid(server.port), simulator.env, raw);
    await waitingHoldsNoWorker(build, server.url, simulator.env);
  } finally {
    await cleanUp();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
