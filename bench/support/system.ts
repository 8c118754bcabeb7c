/**
 * The system under test as an operator starts it (tools/start.mjs on a build), and the
 * measuring helpers the lifecycle benchmarks share.
 */
import { uniqueName } from '@simdeploy/testing';
import { spawn, type ChildProcess } from 'node:child_process';
import { cpSync, createWriteStream, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

export const root = resolve(__dirname, '..', '..');
const CHEAP_SIMULATOR = ['sh', '-c', 'touch "$SIMDEPLOY_READY_FILE"; exec sleep 100000'];
export const CLIENT_POLL_MS = 20;
export const LIST_POLL_MS = 250;

export interface View {
  id: string;
  status: string;
  errorStatus: string | null;
  failureReason: string | null;
}
export interface RecordedEventView {
  type: string;
  data: Record<string, unknown>;
}

// ---------------------------------------------------------------------------------------------
// The system under test, as an operator starts it

export interface System {
  url: string;
  token: string;
  stateDir: string;
  /** The services' pids by name (and nats-server's when start.mjs started one). */
  pids: Record<string, number>;
  /** Each service's base URL for /metrics (the gateway's own URL, a worker's METRICS_PORT). */
  metrics: Record<string, string>;
  stop(): Promise<void>;
}

export const live = new Set<System>();

export function exited(child: ChildProcess, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((done) => {
    const timer = setTimeout(() => done(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      done(true);
    });
  });
}

export function killQuietly(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(pid, signal);
  } catch {
    // already gone
  }
}

/** The simulator command the services get: the bundled one once it is a shell script, else a one-line shell stand-in. */
export function simulatorEnv(): { env: Record<string, string>; label: string } {
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
export function snapshotBuild(from: string = root): string {
  if (!existsSync(join(from, 'dist/apps/gateway/src/main.js'))) throw new Error(`${from}/dist is missing: run npm run build first`);
  const copy = mkdtempSync(join(tmpdir(), 'simdeploy-bench-build-'));
  // All of tools/: start.mjs runs its neighbours (ensure-native.cjs, the simulator).
  for (const path of ['dist', 'tools', 'package.json']) cpSync(join(from, path), join(copy, path), { recursive: true });
  symlinkSync(join(root, 'node_modules'), join(copy, 'node_modules'), 'dir');
  return copy;
}

/**
 * `node tools/start.mjs --json` on the given nats-server, with its own streams so nothing an
 * earlier system wrote is replayed. Resolves once the gateway is ready.
 */
export async function startSystem(build: string, natsUrl: string, env: Record<string, string>): Promise<System> {
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
        // A benchmark is one caller sending as fast as the system answers.
        RATE_LIMIT_MAX: '0',
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
  const system: System = { url: '', token: '', stateDir, pids, metrics: {}, stop };
  live.add(system);

  const ready = await new Promise<{ url: string; userToken: string; pids: Record<string, number>; metrics: Record<string, string> }>((done, fail) => {
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
  system.metrics = ready.metrics;
  return system;
}

export const counters = { requests: 0 };

export async function api<T>(system: System, method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
  counters.requests++;
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

export const launchBody = { world: 'worlds/bench.sdf', image: 'gazebo/gz-sim:bench', robots: [], nodeInstanceType: 'm5.large' };
export const launch = (system: System) => api<View>(system, 'POST', '/simulations', launchBody);
export const stopSimulation = (system: System, id: string) => api<View>(system, 'POST', `/simulations/${id}/stop`);

// ---------------------------------------------------------------------------------------------
// Measuring

export const sleep = (ms: number) => new Promise((done) => setTimeout(done, ms));
export const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

export function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.max(0, Math.ceil(q * sorted.length) - 1)] ?? NaN;
}

export const spread = (ms: number[]) =>
  `p50 ${percentile(ms, 0.5).toFixed(0).padStart(5)} ms   p99 ${percentile(ms, 0.99).toFixed(0).padStart(5)} ms   max ${Math.max(...ms).toFixed(0).padStart(5)} ms`;

/** Keeps `window` operations in flight for `durationMs`; returns completed operations per second. */
export async function throughput(window: number, durationMs: number, op: (worker: number) => Promise<unknown>): Promise<number> {
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
export async function inBatches<T, R>(items: readonly T[], limit: number, op: (item: T) => Promise<R>): Promise<R[]> {
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
export async function pollUntil(system: System, id: string, status: string, deadline: number): Promise<void> {
  for (;;) {
    const view = await api<View>(system, 'GET', `/simulations/${id}`);
    if (view.errorStatus) throw new Error(`simulation ${id} is ${view.status}/${view.errorStatus}: ${view.failureReason}`);
    if (view.status === status) return;
    if (Date.now() > deadline) throw new Error(`simulation ${id} still ${view.status}, not ${status}, at the deadline`);
    await sleep(CLIENT_POLL_MS);
  }
}

/** Milliseconds between two events of one simulation's history, from the timestamps the services recorded. */
export function eventSpan(history: RecordedEventView[], from: [string, string], to: [string, string]): { start: number; end: number } {
  const at = ([type, field]: [string, string]) => {
    const event = history.find((e) => e.type === type);
    if (!event || typeof event.data[field] !== 'string') throw new Error(`no ${type}.${field} in the history`);
    return Date.parse(event.data[field] as string);
  };
  return { start: at(from), end: at(to) };
}
/** When each event happened, by the timestamp its service recorded in it. */
export const happenedAt = (e: RecordedEventView): number => Date.parse(String(e.data['at'] ?? e.data['requestedAt']));

export const LAUNCH_PATH = ['SimulationRequested', 'NodesLaunchStarted', 'InstanceLaunched', 'PodsLaunchStarted', 'SimulationRunning'];

/** p50 / p99 of the time between consecutive events of the launch path: where the time to Running goes. */
export function launchBreakdown(all: RecordedEventView[][]): string {
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
export function cpuSeconds(pid: number): number {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return NaN;
  }
}

/** Starts counting the services' CPU; the returned function says what each used since. */
export function cpuMeter(system: System, processes: Record<string, number> = {}): () => string {
  const all = { ...system.pids, ...processes };
  const before = Object.fromEntries(Object.entries(all).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return () =>
    Object.entries(all)
      .map(([name, pid]) => `${name} ${(cpuSeconds(pid) - before[name]).toFixed(1)}`)
      .join(', ');
}

export const REQUESTED: [string, string] = ['SimulationRequested', 'requestedAt'];
export const RUNNING: [string, string] = ['SimulationRunning', 'at'];
export const STOP_REQUESTED: [string, string] = ['StopRequested', 'at'];
export const TERMINATED: [string, string] = ['SimulationTerminated', 'at'];

export async function histories(system: System, ids: readonly string[]): Promise<RecordedEventView[][]> {
  return inBatches(ids, 16, (id) => api<RecordedEventView[]>(system, 'GET', `/simulations/${id}/events`));
}

export interface PodProcess {
  pid: number;
  rssKb: number;
  command: string;
}

/** Every process on this machine whose environment names one of these deployments. */
export async function podProcesses(ids: ReadonlySet<string>): Promise<PodProcess[]> {
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
export function natsServerPid(port: number): number {
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

export function memAvailableMb(): number {
  const kb = /MemAvailable:\s+(\d+)/.exec(readFileSync('/proc/meminfo', 'utf8'))?.[1];
  return Math.floor(Number(kb ?? 0) / 1024);
}

/** Polls the list until every one of `ids` shows `status`; returns when that was first seen. Any failure throws. */
export async function waitAll(system: System, ids: readonly string[], status: string, deadline: number): Promise<number> {
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

