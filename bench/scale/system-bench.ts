/**
 * The whole system as a user runs it, at the scale of issue 12, in one run against one private
 * nats-server: tools/start.mjs on a snapshot of the build (gateway, launcher, terminator, error
 * handler), driven through the REST API only, with the issue's baseline figures beside ours.
 *
 * Run:  npm run build && node bench/run.cjs bench/scale/system-bench.ts [--quick] [--only simulated|local]
 * BENCH_SIMULATED_LAUNCHES and BENCH_LOCAL_LAUNCHES change the counts.
 *
 *   (A) PROVIDER=simulated, SIMULATED_BOOT_MS=30000, POOL_SIZE=10: 10,000 launches (1,000 with
 *       --quick) in batches of 100; while they boot, autocannon asks GET /simulations/:id at
 *       900/s and POST /simulations at 100/s (another owner); then stops of all by label.
 *       Time to all Running and to all Terminated, latencies, RSS of each service, and from the
 *       services' /metrics the redeliveries and provider calls per second.
 *   (B) PROVIDER=local, LOCAL_BOOT_DELAY_MS=30000: 1,000 launches (100 with --quick), stops of
 *       all; times, error statuses, processes on the machine, the 1-minute load average, and
 *       the pod processes left afterwards.
 *
 * Every launch has one robot (two machines, three pods), as the issue's baseline had (1,000
 * launches, 3,000 pods). Times are what a client sees: from the first launch request (or stop
 * request) until the list's tally shows every one Running (or Terminated), polled every
 * POLL_MS. It loads the machine for minutes: run it on its own.
 */
import { startNatsServer, uniqueName, type NatsServerHandle } from '@simdeploy/testing';
import autocannon from 'autocannon';
import { SignJWT } from 'jose';
import { copyFileSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { cpuSeconds, inBatches, killQuietly, live, natsServerPid, podProcesses, simulatorEnv, sleep, snapshotBuild, startSystem, type System } from '../support/system';

const { values: args } = parseArgs({ options: { quick: { type: 'boolean', default: false }, only: { type: 'string' } } });
if (args.only !== undefined && args.only !== 'simulated' && args.only !== 'local') {
  console.error(`--only must be simulated or local; got "${args.only}"`);
  process.exit(2);
}
const quick = args.quick === true;
const parts = { simulated: args.only !== 'local', local: args.only !== 'simulated' };

const BOOT_MS = 30_000;
const POOL_SIZE = 10;
const SIMULATED_LAUNCHES = Number(process.env['BENCH_SIMULATED_LAUNCHES'] ?? (quick ? 1_000 : 10_000));
const LOCAL_LAUNCHES = Number(process.env['BENCH_LOCAL_LAUNCHES'] ?? (quick ? 100 : 1_000));
const BATCH = 100;
const BATCHES_IN_FLIGHT = 4;
/** A stop by selector stops at most this many (the gateway's STOP_MATCHING_MAX); `more` asks for another. */
const STOP_PAGE = 1_000;
const LOAD_SECONDS = quick ? 5 : 10;
const GET_RATE = 900;
const POST_RATE = 100;
const POLL_MS = 500;
const PROGRESS_MS = 5_000;
const SAMPLE_MS = 1_000;
/** A phase not done by then is reported as not reached, and the run goes on to clean up. */
const PHASE_LIMIT_MS = quick ? 240_000 : 600_000;
const REQUEST_TIMEOUT_MS = 120_000;
const SECRET = 'system-bench-secret-with-at-least-32-characters';
const ROBOTS = [{ name: 'r0', image: 'bench/robot:1' }];
const NODES_PER_LAUNCH = 2;
const PODS_PER_LAUNCH = 3;
const simulation = { world: 'worlds/bench.sdf', image: 'gazebo/gz-sim:bench', robots: ROBOTS, nodeInstanceType: 'm5.large' };

// ---------------------------------------------------------------------------------------------
// Talking to the system

/** One caller of the API: a token, and the label its launches carry so a stop by selector finds them. */
interface Caller {
  name: string;
  token: string;
  labels: Record<string, string>;
}

async function call<T>(system: System, caller: Caller, method: 'GET' | 'POST', path: string, body?: object): Promise<T> {
  const response = await fetch(`${system.url}${path}`, {
    method,
    headers: { authorization: `Bearer ${caller.token}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
    signal: AbortSignal.timeout(REQUEST_TIMEOUT_MS),
  });
  const text = await response.text();
  if (!response.ok) throw new Error(`${caller.name}: ${method} ${path}: ${response.status} ${text.slice(0, 300)}`);
  return JSON.parse(text) as T;
}

const signToken = (subject: string) =>
  new SignJWT({ roles: [] }).setProtectedHeader({ alg: 'HS256' }).setSubject(subject).setExpirationTime('2h').sign(new TextEncoder().encode(SECRET));

/** What a caller's list shows, from the read model's tallies (owner, status and error status filters are cheap). */
interface Tally {
  all: number;
  running: number;
  terminated: number;
  rejected: number;
  /** With any error status, wherever they are. */
  errors: number;
  /** With an error status and not over: they will not end by themselves. */
  stuck: number;
}

async function tally(system: System, caller: Caller): Promise<Tally> {
  const count = async (query: string) => {
    const page = await call<{ total?: number }>(system, caller, 'GET', `/simulations?limit=1${query}`);
    if (typeof page.total !== 'number') throw new Error(`GET /simulations?limit=1${query} gave no total`);
    return page.total;
  };
  const [all, running, terminated, rejected, errors, stuck] = await Promise.all([
    count(''),
    count('&status=Running'),
    count('&status=Terminated'),
    count('&status=Rejected'),
    count('&errorStatus=!none'),
    count('&status=!Terminated,Rejected&errorStatus=!none'),
  ]);
  return { all, running, terminated, rejected, errors, stuck };
}

interface Reached {
  /** Milliseconds from `since` until the condition was first seen; null if the phase limit came first. */
  ms: number | null;
  last: Tally;
  /** Every tally polled, with when (ms from `since`). */
  history: { at: number; tally: Tally }[];
}

/**
 * Polls a caller's tally until `done`, or until nothing can change any more (every one either
 * there or failed), or the phase limit; prints progress every few seconds.
 */
async function until(what: string, system: System, caller: Caller, since: number, done: (t: Tally) => boolean, settled: (t: Tally) => boolean): Promise<Reached> {
  const history: Reached['history'] = [];
  let lastPrint = 0;
  for (;;) {
    const t = await tally(system, caller);
    const at = performance.now() - since;
    history.push({ at, tally: t });
    if (done(t)) return { ms: at, last: t, history };
    if (settled(t) || at > PHASE_LIMIT_MS) {
      console.log(`    ${what}: not reached after ${seconds(at)}: ${describe(t)}`);
      return { ms: null, last: t, history };
    }
    if (at - lastPrint >= PROGRESS_MS) {
      lastPrint = at;
      console.log(`    ${seconds(at).padStart(7)}  ${what}: ${describe(t)}`);
    }
    await sleep(POLL_MS);
  }
}

const describe = (t: Tally) => `${t.running} Running, ${t.terminated} Terminated, ${t.rejected} Rejected, ${t.errors} with an error status (of ${t.all})`;

/** N launches in batches of 100, a few batches in flight; returns the ids and when the last answer came. */
async function launchAll(system: System, caller: Caller, count: number): Promise<{ ids: string[]; acceptedMs: number; rejected: number }> {
  const begin = performance.now();
  const sizes = Array.from({ length: Math.ceil(count / BATCH) }, (_, i) => Math.min(BATCH, count - i * BATCH));
  const answers = await inBatches(sizes, BATCHES_IN_FLIGHT, (size) =>
    call<{ ids: string[]; simulations: { status: string }[] }>(system, caller, 'POST', '/simulations/batch', { simulation, count: size, labels: caller.labels }),
  );
  return {
    ids: answers.flatMap((a) => a.ids),
    acceptedMs: performance.now() - begin,
    rejected: answers.flatMap((a) => a.simulations).filter((s) => s.status === 'Rejected').length,
  };
}

/** Stops every simulation of the caller's with its label, a page of up to 1,000 per request, while `more`. */
async function stopAll(system: System, caller: Caller, expected: number): Promise<{ stopped: number; requests: number; ms: number }> {
  const begin = performance.now();
  const stopped = new Set<string>();
  let requests = 0;
  // More pages than the count calls for means the selector keeps matching what it stopped already.
  const maxRequests = Math.ceil(expected / STOP_PAGE) + 5;
  for (;;) {
    requests++;
    const answer = await call<{ stopped: string[]; alreadyStopping: string[]; more: boolean }>(system, caller, 'POST', '/simulations/stop', { labels: caller.labels });
    for (const id of answer.stopped) stopped.add(id);
    if (!answer.more) break;
    if (requests >= maxRequests) throw new Error(`${caller.name}: POST /simulations/stop still answers more after ${requests} requests (${stopped.size} distinct stopped of ${expected})`);
  }
  return { stopped: stopped.size, requests, ms: performance.now() - begin };
}

// ---------------------------------------------------------------------------------------------
// Measuring the processes

interface Sampler {
  /** RSS in MB per process name at the first sample, and at its peak. */
  startRssMb: Record<string, number>;
  peakRssMb: Record<string, number>;
  /** Processes that went away while sampled. */
  gone: Set<string>;
  peakProcesses: number;
  peakLoad: number;
  stop(): void;
}

const samplers = new Set<Sampler>();

function rssMb(pid: number): number {
  const kb = /VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1];
  return Number(kb ?? NaN) / 1024;
}

const processCount = () => readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).length;

/** Every second: RSS of each named process, the machine's process count and 1-minute load average. */
function sample(processes: Record<string, number>): Sampler {
  const sampler: Sampler = { startRssMb: {}, peakRssMb: {}, gone: new Set(), peakProcesses: 0, peakLoad: 0, stop: () => undefined };
  const once = () => {
    for (const [name, pid] of Object.entries(processes)) {
      try {
        const mb = rssMb(pid);
        sampler.startRssMb[name] ??= mb;
        sampler.peakRssMb[name] = Math.max(sampler.peakRssMb[name] ?? 0, mb);
      } catch {
        sampler.gone.add(name);
      }
    }
    sampler.peakProcesses = Math.max(sampler.peakProcesses, processCount());
    sampler.peakLoad = Math.max(sampler.peakLoad, loadavg()[0]);
  };
  once();
  const timer = setInterval(once, SAMPLE_MS);
  sampler.stop = () => {
    clearInterval(timer);
    samplers.delete(sampler);
  };
  samplers.add(sampler);
  return sampler;
}

/** The machine's CPU time so far, busy and in all, in ticks (first line of /proc/stat). */
function machineTicks(): { busy: number; all: number } {
  const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1, 9).map(Number);
  const all = fields.reduce((sum, v) => sum + v, 0);
  return { busy: all - fields[3] - fields[4], all };
}

/** Starts counting CPU; the returned function says, as % of one core, what each process and the whole machine used since. */
function cpuWindow(processes: Record<string, number>): () => string {
  const started = performance.now();
  const machine = machineTicks();
  const before = Object.fromEntries(Object.entries(processes).map(([name, pid]) => [name, cpuSeconds(pid)]));
  return () => {
    const elapsed = (performance.now() - started) / 1000;
    const now = machineTicks();
    const busy = ((now.busy - machine.busy) / (now.all - machine.all)) * cpus().length * 100;
    const each = Object.entries(processes).map(([name, pid]) => `${name} ${(((cpuSeconds(pid) - before[name]) / elapsed) * 100).toFixed(0)}%`);
    return `${each.join(', ')}; whole machine ${busy.toFixed(0)}% of ${cpus().length * 100}%`;
  };
}

interface MetricSample {
  name: string;
  labels: Record<string, string>;
  value: number;
}

/** Prometheus text format, the lines that carry a value. */
function parseMetrics(text: string): MetricSample[] {
  const samples: MetricSample[] = [];
  for (const line of text.split('\n')) {
    const match = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!match) continue;
    const labels: Record<string, string> = {};
    for (const pair of (match[2] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g)) labels[pair[1]] = pair[2];
    samples.push({ name: match[1], labels, value: Number(match[3]) });
  }
  return samples;
}

/** Each service's metrics, by service name; a service that does not answer is left out (and named). */
async function scrape(system: System): Promise<Record<string, MetricSample[]>> {
  const byService: Record<string, MetricSample[]> = {};
  await Promise.all(
    Object.entries(system.metrics).map(async ([service, base]) => {
      try {
        const response = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(10_000) });
        byService[service] = parseMetrics(await response.text());
      } catch (error) {
        console.log(`    ${service}'s /metrics did not answer: ${error instanceof Error ? error.message : String(error)}`);
      }
    }),
  );
  return byService;
}

/** A counter summed over every service, grouped by one label (or all together). */
function sumBy(scraped: Record<string, MetricSample[]>, name: string, label?: string): Map<string, number> {
  const sums = new Map<string, number>();
  for (const samples of Object.values(scraped)) {
    for (const s of samples) {
      if (s.name !== name) continue;
      const key = label ? (s.labels[label] ?? '') : 'all';
      sums.set(key, (sums.get(key) ?? 0) + s.value);
    }
  }
  return sums;
}

/** Per second between two scrapes, by label, largest first. */
function ratesBetween(before: Record<string, MetricSample[]>, after: Record<string, MetricSample[]>, name: string, ms: number, label?: string): [string, number][] {
  const from = sumBy(before, name, label);
  return [...sumBy(after, name, label)]
    .map(([key, value]): [string, number] => [key, ((value - (from.get(key) ?? 0)) / ms) * 1000])
    .filter(([, rate]) => rate > 0)
    .sort((a, b) => b[1] - a[1]);
}

const total = (rates: [string, number][]) => rates.reduce((sum, [, rate]) => sum + rate, 0);
const listRates = (rates: [string, number][]) => (rates.length === 0 ? 'none' : rates.map(([key, rate]) => `${key} ${rate.toFixed(1)}`).join(', '));

function printWindow(name: string, before: Record<string, MetricSample[]>, after: Record<string, MetricSample[]>, ms: number): { redeliveries: number; providerCalls: number } {
  const redeliveries = ratesBetween(before, after, 'simdeploy_commands_redelivered_total', ms, 'kind');
  const calls = ratesBetween(before, after, 'simdeploy_provider_calls_total', ms, 'operation');
  const errors = ratesBetween(before, after, 'simdeploy_provider_errors_total', ms, 'code');
  const naks = ratesBetween(before, after, 'simdeploy_commands_naked_total', ms, 'reason');
  console.log(`    ${name} (${seconds(ms)}), per second, all services:`);
  console.log(`      redeliveries ${total(redeliveries).toFixed(1)}/s: ${listRates(redeliveries)}`);
  console.log(`      provider calls ${total(calls).toFixed(1)}/s: ${listRates(calls)}`);
  console.log(`      provider errors ${total(errors).toFixed(1)}/s: ${listRates(errors)};  naks ${total(naks).toFixed(1)}/s: ${listRates(naks)}`);
  return { redeliveries: total(redeliveries), providerCalls: total(calls) };
}

/** Each service's V8 heap in use and reserved, from its last scrape (prom-client's default metrics). */
function heaps(scraped: Record<string, MetricSample[]>): string {
  const mb = (samples: MetricSample[], name: string) => (samples.find((s) => s.name === name)?.value ?? NaN) / 1024 / 1024;
  return Object.entries(scraped)
    .map(([service, samples]) => `${service} ${mb(samples, 'nodejs_heap_size_used_bytes').toFixed(0)}/${mb(samples, 'nodejs_heap_size_total_bytes').toFixed(0)} MB`)
    .join(', ');
}

function printRss(sampler: Sampler): void {
  console.log(`    RSS at start -> peak: ${Object.entries(sampler.peakRssMb).map(([name, mb]) => `${name} ${(sampler.startRssMb[name] ?? NaN).toFixed(0)} -> ${mb.toFixed(0)} MB`).join(', ')}`);
}

// ---------------------------------------------------------------------------------------------
// Load while the launches boot

const cannons = new Set<autocannon.Instance>();

function cannon(options: autocannon.Options): Promise<autocannon.Result> {
  return new Promise((done, fail) => {
    const instance = autocannon(options, (error: unknown, result: autocannon.Result) => {
      cannons.delete(instance);
      if (error) fail(error instanceof Error ? error : new Error(String(error)));
      else done(result);
    });
    cannons.add(instance);
  });
}

interface Load {
  asked: number;
  achieved: number;
  p50: number;
  p99: number;
  max: number;
  non2xx: number;
  errors: number;
  codes: string;
}

function loadOf(result: autocannon.Result, asked: number): Load {
  const codes = Object.entries(result.statusCodeStats ?? {})
    .map(([code, stats]) => `${code}: ${stats.count ?? 0}`)
    .join(', ');
  return {
    asked,
    achieved: result.requests.total / result.duration,
    p50: result.latency.p50,
    p99: result.latency.p99,
    max: result.latency.max,
    non2xx: result.non2xx,
    errors: result.errors + result.timeouts,
    codes,
  };
}

/** GETs of random known simulations and single launches by another owner, at once, each at its own fixed rate. */
async function loadWhileBooting(system: System, reader: Caller, launcher: Caller, ids: readonly string[]): Promise<{ get: Load; post: Load }> {
  const [get, post] = await Promise.all([
    cannon({
      url: system.url,
      connections: 100,
      overallRate: GET_RATE,
      duration: LOAD_SECONDS,
      headers: { authorization: `Bearer ${reader.token}` },
      requests: [{ method: 'GET', setupRequest: (request) => ({ ...request, path: `/simulations/${ids[Math.floor(Math.random() * ids.length)]}` }) }],
    }),
    cannon({
      url: `${system.url}/simulations`,
      connections: 20,
      overallRate: POST_RATE,
      duration: LOAD_SECONDS,
      method: 'POST',
      headers: { authorization: `Bearer ${launcher.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ ...simulation, labels: launcher.labels }),
    }),
  ]);
  return { get: loadOf(get, GET_RATE), post: loadOf(post, POST_RATE) };
}

// ---------------------------------------------------------------------------------------------
// The summary

interface Row {
  measure: string;
  value: number;
  unit: string;
  digits?: number;
  /** Shown instead of the value (a phase not finished, a list of values). */
  text?: string;
  /** At most this (the issue's target). */
  target?: number;
  ideal?: number;
  baseline?: number;
  /** The issue's figure as words, when it is not one number or is a bound. */
  baselineText?: string;
  /** The baseline is a lower bound (none done after 10 min): the ratio to it is an upper bound. */
  baselineAtLeast?: boolean;
}

const rows: { part: string; rows: Row[] }[] = [];
const problems: string[] = [];

const seconds = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const withUnit = (value: number, unit: string, digits = 0) => (Number.isFinite(value) ? `${value.toFixed(digits)}${unit ? ` ${unit}` : ''}` : '-');
const ratio = (value: number, of: number | undefined, prefix = '') => {
  if (of === undefined || of <= 0 || !Number.isFinite(value)) return '';
  const r = value / of;
  return `${prefix}${r === 0 || r >= 0.1 ? r.toFixed(2) : r.toPrecision(2)}`;
};

function printSummary(): void {
  const header = ['measure', 'figure', 'target', 'ideal', 'issue baseline', '/target', '/ideal', '/baseline'];
  const widths = [50, 20, 10, 8, 40, 8, 7, 9];
  const line = (cells: string[]) => cells.map((cell, i) => (i === 0 || i === 4 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join(' ');
  console.log(`\nSummary (${quick ? 'quick run: fewer launches than the issue asks, figures for a check only' : 'full run'}; ${cpus().length} cores, Node ${process.versions.node})`);
  console.log(line(header));
  for (const part of rows) {
    console.log(part.part);
    for (const r of part.rows) {
      const digits = r.digits ?? 0;
      console.log(
        line([
          `  ${r.measure}`,
          r.text ?? withUnit(r.value, r.unit, digits),
          r.target === undefined ? '' : `<= ${withUnit(r.target, r.unit)}`,
          r.ideal === undefined ? '' : withUnit(r.ideal, r.unit),
          r.baselineText ?? (r.baseline === undefined ? '-' : withUnit(r.baseline, r.unit, digits)),
          ratio(r.value, r.target),
          ratio(r.value, r.ideal),
          ratio(r.value, r.baseline, r.baselineAtLeast ? '< ' : ''),
        ]),
      );
    }
  }
  if (problems.length > 0) {
    console.log('\nProblems seen (defects of the system, or of this run):');
    for (const p of problems) console.log(`  - ${p}`);
  }
}

/** Keeps the services' log of a run that showed a problem, outside the state folder the stop removes. */
function keepLog(system: System, name: string): void {
  const kept = join(tmpdir(), `system-bench-${name}-${Date.now()}.log`);
  try {
    copyFileSync(join(system.stateDir, 'services.log'), kept);
    problems.push(`${name}: the services' log is kept in ${kept}`);
  } catch {
    // start.mjs may not have written one
  }
}

// ---------------------------------------------------------------------------------------------
// The two parts

const BASELINE_GET = '138 ms (3,000/s asked, ~2,400 waiting)';

async function callers(tag: string): Promise<{ user: Caller; load: Caller }> {
  return {
    user: { name: 'bench-user', token: await signToken('bench-user'), labels: { bench: tag } },
    load: { name: 'bench-load', token: await signToken('bench-load'), labels: { bench: tag, source: 'autocannon' } },
  };
}

function servicesOf(system: System, natsPid: number): Record<string, number> {
  return { ...system.pids, 'nats-server (shared)': natsPid, 'bench (this process)': process.pid };
}

function rssRows(sampler: Sampler, system: System): Row[] {
  return Object.keys(system.pids).map((name) => ({
    measure: `peak RSS, ${name}`,
    value: sampler.peakRssMb[name] ?? NaN,
    unit: 'MB',
    target: 300,
  }));
}

/** Launches that ended in an error status or Rejected: a defect in these runs, never load. */
function checkEnd(name: string, system: System, t: Tally, label: string): void {
  if (t.errors > 0 || t.rejected > 0) {
    problems.push(`${name}: ${label}: ${t.errors} with an error status, ${t.rejected} Rejected (GET /simulations?errorStatus=!none shows which)`);
    keepLog(system, name);
  }
}

async function simulatedPart(build: string, server: NatsServerHandle): Promise<void> {
  const n = SIMULATED_LAUNCHES;
  const tag = uniqueName('sim').replace(/[^A-Za-z0-9_-]/g, '_');
  console.log(`\n(A) simulated provider: ${n} launches in batches of ${BATCH} (${BATCHES_IN_FLIGHT} in flight), SIMULATED_BOOT_MS=${BOOT_MS}, POOL_SIZE=${POOL_SIZE}, one robot each`);
  const system = await startSystem(build, server.url, {
    PROVIDER: 'simulated',
    SIMULATED_BOOT_MS: String(BOOT_MS),
    POOL_SIZE: String(POOL_SIZE),
    JWT_SECRET: SECRET,
    SIMULATED_BUCKET: `${tag}_SIMULATED`,
    LEADER_LEASE_BUCKET: `${tag}_leases`,
  });
  const part: Row[] = [];
  rows.push({ part: `(A) simulated provider, ${n} launches, ${BOOT_MS / 1000} s boot, pool ${POOL_SIZE}`, rows: part });
  const processes = servicesOf(system, natsServerPid(server.port));
  const sampler = sample(processes);
  try {
    const { user, load } = await callers(tag);
    const atStart = await scrape(system);
    const launchCpu = cpuWindow(processes);
    const begin = performance.now();
    // Every time counts from the first launch request; none can be all Running before the last is accepted.
    const launched = launchAll(system, user, n);
    const running = launched.then(() =>
      until('to Running', system, user, begin, (t) => t.running >= n, (t) => t.running + t.errors + t.rejected >= n),
    );
    const { ids, acceptedMs, rejected } = await launched;
    console.log(`    ${ids.length} launches accepted in ${seconds(acceptedMs)} (${((ids.length / acceptedMs) * 1000).toFixed(0)}/s), ${rejected} Rejected at once`);

    const loadBegin = performance.now() - begin;
    const loadCpu = cpuWindow(processes);
    const { get, post } = await loadWhileBooting(system, user, load, ids);
    const cpuUnderLoad = loadCpu();
    const loadEnd = performance.now() - begin;

    const reached = await running;
    const runningMs = reached.ms ?? performance.now() - begin;
    const cpuToRunning = launchCpu();
    const atRunning = await scrape(system);
    const waiting = (at: number) => {
      const seen = reached.history.filter((h) => h.at <= at).pop() ?? reached.history[0];
      return seen ? n - seen.tally.running : NaN;
    };
    const waitingDuringLoad = `${waiting(loadBegin)} -> ${waiting(loadEnd)}`;
    console.log(`    all ${n} Running ${reached.ms === null ? 'NOT reached' : `after ${seconds(reached.ms)}`} from the first launch request (ideal ${seconds(BOOT_MS)})`);
    for (const [what, l] of [['GET /simulations/:id', get], ['POST /simulations', post]] as const) {
      console.log(`    ${what.padEnd(21)} ${l.achieved.toFixed(0)}/s of ${l.asked} asked, p50 ${l.p50} ms, p99 ${l.p99} ms, max ${l.max} ms; non-2xx ${l.non2xx}, errors ${l.errors} (${l.codes || 'no answers'})`);
    }
    console.log(`    during the ${LOAD_SECONDS} s of load, simulations not yet Running: ${waitingDuringLoad}; CPU (% of one core): ${cpuUnderLoad}`);
    console.log(`    CPU from the first launch to all Running: ${cpuToRunning}`);
    if (get.non2xx + get.errors + post.non2xx + post.errors > 0) problems.push(`(A): under load, GET had ${get.non2xx} non-2xx and ${get.errors} errors, POST ${post.non2xx} and ${post.errors} (${get.codes}; ${post.codes})`);

    const stopCpu = cpuWindow(processes);
    const stopBegin = performance.now();
    const [userStops, loadStops] = await Promise.all([stopAll(system, user, n), stopAll(system, load, Math.ceil(POST_RATE * LOAD_SECONDS * 1.5))]);
    console.log(`    stops: ${userStops.stopped} in ${userStops.requests} requests answered in ${seconds(userStops.ms)}; the other owner's ${loadStops.stopped} in ${loadStops.requests} in ${seconds(loadStops.ms)}`);
    const [terminated, loadTerminated] = await Promise.all([
      until('to Terminated', system, user, stopBegin, (t) => t.terminated + t.rejected >= t.all, (t) => t.terminated + t.rejected + t.stuck >= t.all),
      until("to Terminated (the other owner's)", system, load, stopBegin, (t) => t.terminated + t.rejected >= t.all, (t) => t.terminated + t.rejected + t.stuck >= t.all),
    ]);
    const terminatedMs = terminated.ms ?? performance.now() - stopBegin;
    const cpuToTerminated = stopCpu();
    const atTerminated = await scrape(system);
    console.log(`    all ${n} Terminated ${terminated.ms === null ? 'NOT reached' : `after ${seconds(terminated.ms)}`} from the first stop request; the other owner's ${loadTerminated.last.all} ${loadTerminated.ms === null ? 'NOT all Terminated' : `after ${seconds(loadTerminated.ms)}`}`);
    console.log(`    CPU from the first stop to all Terminated: ${cpuToTerminated}`);
    const launchWindow = printWindow('from the first launch to all Running', atStart, atRunning, runningMs);
    const stopWindow = printWindow('from the first stop to all Terminated', atRunning, atTerminated, terminatedMs);

    const end = { user: await tally(system, user), load: await tally(system, load) };
    checkEnd('(A)', system, end.user, `the ${n} launches`);
    checkEnd('(A)', system, end.load, "the other owner's launches");
    if (sampler.gone.size > 0) problems.push(`(A): processes gone while sampled: ${[...sampler.gone].join(', ')}`);
    sampler.stop();
    printRss(sampler);
    console.log(`    V8 heap used/reserved at the end: ${heaps(atTerminated)}`);

    part.push(
      { measure: `launches accepted/s (${n} in batches of ${BATCH})`, value: (ids.length / acceptedMs) * 1000, unit: '/s', text: `${((ids.length / acceptedMs) * 1000).toFixed(0)}/s (${seconds(acceptedMs)})`, baseline: 294, baselineText: '294/s (1,000 local in 3.4 s)' },
      { measure: 'first launch -> all Running', value: runningMs / 1000, unit: 's', digits: 1, text: reached.ms === null ? `> ${seconds(runningMs)}` : undefined, target: 40, ideal: BOOT_MS / 1000 },
      { measure: `GET /simulations/:id p99 (asked ${GET_RATE}/s)`, value: get.p99, unit: 'ms', target: 10, baseline: 138, baselineText: BASELINE_GET },
      { measure: '  GET p50 / max', value: get.p50, unit: 'ms', text: `${get.p50} / ${get.max} ms` },
      { measure: '  GET achieved', value: get.achieved, unit: '/s', target: undefined, baseline: 2078, baselineText: '2,078/s of 3,000 asked' },
      { measure: `POST /simulations p99 (asked ${POST_RATE}/s)`, value: post.p99, unit: 'ms', target: 50 },
      { measure: '  POST p50 / max', value: post.p50, unit: 'ms', text: `${post.p50} / ${post.max} ms` },
      { measure: '  POST achieved', value: post.achieved, unit: '/s' },
      { measure: '  non-2xx + errors, GET / POST', value: get.non2xx + get.errors + post.non2xx + post.errors, unit: '', text: `${get.non2xx + get.errors} / ${post.non2xx + post.errors}`, target: 0 },
      { measure: '  not yet Running during the load', value: NaN, unit: '', text: waitingDuringLoad, baselineText: '~2,400 waiting' },
      { measure: 'first stop -> all Terminated', value: terminatedMs / 1000, unit: 's', digits: 1, text: terminated.ms === null ? `> ${seconds(terminatedMs)}` : undefined, target: 30 },
      { measure: 'error statuses at the end (+ Rejected)', value: end.user.errors + end.load.errors, unit: '', text: `${end.user.errors + end.load.errors} (+ ${end.user.rejected + end.load.rejected})`, target: 0 },
      ...rssRows(sampler, system),
      { measure: 'redeliveries/s, launch / stop window', value: launchWindow.redeliveries, unit: '/s', text: `${launchWindow.redeliveries.toFixed(1)} / ${stopWindow.redeliveries.toFixed(1)}` },
      { measure: 'provider calls/s, launch / stop window', value: launchWindow.providerCalls, unit: '/s', text: `${launchWindow.providerCalls.toFixed(0)} / ${stopWindow.providerCalls.toFixed(0)}` },
    );
  } catch (error) {
    keepLog(system, '(A)');
    throw error;
  } finally {
    sampler.stop();
    await system.stop();
  }
}

async function localPart(build: string, server: NatsServerHandle): Promise<void> {
  const n = LOCAL_LAUNCHES;
  const tag = uniqueName('local').replace(/[^A-Za-z0-9_-]/g, '_');
  const simulator = simulatorEnv();
  // Two machines per launch with a robot; the default LOCAL_SLOTS (1000) would queue half of 1,000.
  const slots = Math.max(1000, n * NODES_PER_LAUNCH);
  console.log(`\n(B) local runtime: ${n} launches in batches of ${BATCH}, LOCAL_BOOT_DELAY_MS=${BOOT_MS}, POOL_SIZE=${POOL_SIZE}, LOCAL_SLOTS=${slots}, one robot each; simulator: ${simulator.label}`);
  const before = { processes: processCount(), load: loadavg()[0] };
  console.log(`    this machine before: ${before.processes} processes, load average ${before.load.toFixed(1)}`);
  const system = await startSystem(build, server.url, {
    ...simulator.env,
    PROVIDER: 'local',
    LOCAL_BOOT_DELAY_MS: String(BOOT_MS),
    LOCAL_SLOTS: String(slots),
    POOL_SIZE: String(POOL_SIZE),
    JWT_SECRET: SECRET,
    LEADER_LEASE_BUCKET: `${tag}_leases`,
  });
  const part: Row[] = [];
  rows.push({ part: `(B) local runtime, ${n} launches, ${BOOT_MS / 1000} s boot, pool ${POOL_SIZE}`, rows: part });
  const processes = servicesOf(system, natsServerPid(server.port));
  const sampler = sample(processes);
  let ids: string[] = [];
  try {
    const { user } = await callers(tag);
    const atStart = await scrape(system);
    const launchCpu = cpuWindow(processes);
    const begin = performance.now();
    const launched = await launchAll(system, user, n);
    ids = launched.ids;
    launchedLocally.push(...ids);
    console.log(`    ${ids.length} launches accepted in ${seconds(launched.acceptedMs)}, ${launched.rejected} Rejected at once`);
    const reached = await until('to Running', system, user, begin, (t) => t.running >= n, (t) => t.running + t.errors + t.rejected >= n);
    const runningMs = reached.ms ?? performance.now() - begin;
    const cpuToRunning = launchCpu();
    const atRunning = await scrape(system);
    const pods = await podProcesses(new Set(ids));
    console.log(`    all ${n} Running ${reached.ms === null ? 'NOT reached' : `after ${seconds(reached.ms)}`} (ideal ${seconds(BOOT_MS)}); their pods' processes then: ${pods.length} (${(pods.length / (n * PODS_PER_LAUNCH)).toFixed(2)} a pod), ${(pods.reduce((s, p) => s + p.rssKb, 0) / 1024).toFixed(0)} MB RSS`);

    console.log(`    CPU from the first launch to all Running: ${cpuToRunning}`);
    const stopCpu = cpuWindow(processes);
    const stopBegin = performance.now();
    const stops = await stopAll(system, user, n);
    console.log(`    stops: ${stops.stopped} in ${stops.requests} requests answered in ${seconds(stops.ms)}`);
    const terminated = await until('to Terminated', system, user, stopBegin, (t) => t.terminated + t.rejected >= t.all, (t) => t.terminated + t.rejected + t.stuck >= t.all);
    const terminatedMs = terminated.ms ?? performance.now() - stopBegin;
    const cpuToTerminated = stopCpu();
    const atTerminated = await scrape(system);
    const leftAfterTerminated = await podProcesses(new Set(ids));
    const end = await tally(system, user);
    console.log(`    all ${n} Terminated ${terminated.ms === null ? 'NOT reached' : `after ${seconds(terminated.ms)}`} from the first stop request; pod processes left then: ${leftAfterTerminated.length}`);
    console.log(`    CPU from the first stop to all Terminated: ${cpuToTerminated}`);
    printWindow('from the first launch to all Running', atStart, atRunning, runningMs);
    printWindow('from the first stop to all Terminated', atRunning, atTerminated, terminatedMs);
    console.log(`    this machine at its peak: ${sampler.peakProcesses} processes (${sampler.peakProcesses - before.processes} more than before), load average ${sampler.peakLoad.toFixed(1)}`);
    checkEnd('(B)', system, end, `the ${n} launches`);
    if (terminated.ms !== null && leftAfterTerminated.length > 0) {
      problems.push(`(B): ${leftAfterTerminated.length} pod processes still there with every simulation Terminated, e.g. ${leftAfterTerminated.slice(0, 3).map((p) => `${p.pid} ${p.command}`).join('; ')}`);
      keepLog(system, '(B)');
    }
    if (sampler.gone.size > 0) problems.push(`(B): processes gone while sampled: ${[...sampler.gone].join(', ')}`);
    sampler.stop();
    printRss(sampler);
    console.log(`    V8 heap used/reserved at the end: ${heaps(atTerminated)}`);

    part.push(
      { measure: `launches accepted/s (${n} in batches of ${BATCH})`, value: (ids.length / launched.acceptedMs) * 1000, unit: '/s', text: `${((ids.length / launched.acceptedMs) * 1000).toFixed(0)}/s (${seconds(launched.acceptedMs)})`, baseline: 294, baselineText: '294/s (1,000 in 3.4 s)' },
      { measure: 'first launch -> all Running', value: runningMs / 1000, unit: 's', digits: 1, text: reached.ms === null ? `> ${seconds(runningMs)}` : undefined, target: 60, ideal: BOOT_MS / 1000, baseline: 291 },
      { measure: 'first stop -> all Terminated', value: terminatedMs / 1000, unit: 's', digits: 1, text: terminated.ms === null ? `> ${seconds(terminatedMs)}` : undefined, target: 60, baseline: 600, baselineText: 'none after 600 s', baselineAtLeast: true },
      { measure: 'error statuses at the end (+ Rejected)', value: end.errors, unit: '', text: `${end.errors} (+ ${end.rejected})`, target: 0, baseline: 10, baselineText: '10 TerminationFailed' },
      { measure: 'peak processes on the machine', value: sampler.peakProcesses, unit: '', text: `${sampler.peakProcesses} (${before.processes} before)`, baseline: 15_000, baselineText: '~15,000' },
      { measure: "  the pods' processes, per pod", value: pods.length / (n * PODS_PER_LAUNCH), unit: '', digits: 2, baseline: 5, baselineText: '~5' },
      { measure: 'peak 1-min load average', value: sampler.peakLoad, unit: '', digits: 1, text: `${sampler.peakLoad.toFixed(1)} (${before.load.toFixed(1)} before)`, baseline: 1700, baselineText: '> 1,700', baselineAtLeast: true },
      { measure: 'pod processes left after all Terminated', value: leftAfterTerminated.length, unit: '', target: 0 },
      ...rssRows(sampler, system),
    );
  } catch (error) {
    keepLog(system, '(B)');
    throw error;
  } finally {
    sampler.stop();
    await system.stop();
    // Pods die with the process that owns the runtime; any still here are a defect, and killed.
    const left = await podProcesses(new Set(ids));
    console.log(`    pod processes left after the system stopped: ${left.length}`);
    part.push({ measure: 'pod processes left after the system stopped', value: left.length, unit: '', target: 0 });
    if (left.length > 0) {
      problems.push(`(B): ${left.length} pod processes outlived the system (killed now), e.g. ${left.slice(0, 3).map((p) => `${p.pid} ${p.command}`).join('; ')}`);
      for (const p of left) killQuietly(p.pid, 'SIGKILL');
    }
  }
}

// ---------------------------------------------------------------------------------------------

/** Every local launch of this run, so that a run cut short can still find its pods. */
const launchedLocally: string[] = [];

async function main(): Promise<void> {
  const build = snapshotBuild();
  let server: NatsServerHandle | undefined;
  let cleaning: Promise<void> | undefined;
  const cleanUp = () =>
    (cleaning ??= (async () => {
      for (const instance of cannons) instance.stop();
      for (const sampler of samplers) sampler.stop();
      await Promise.allSettled([...live].map((system) => system.stop()));
      for (const p of await podProcesses(new Set(launchedLocally))) killQuietly(p.pid, 'SIGKILL');
      await server?.stop();
      rmSync(build, { recursive: true, force: true });
    })());
  let interrupted = false;
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      interrupted = true;
      console.log(`\n${signal}: stopping everything this run started`);
      void cleanUp().finally(() => process.exit(130));
    });
  }
  let failed = false;
  try {
    server = await startNatsServer();
    console.log(`system benchmark (issue 12), ${quick ? 'quick' : 'full'} run, ${cpus().length} cores, Node ${process.versions.node}; nats-server at ${server.url}`);
    for (const [name, run] of [['simulated', simulatedPart], ['local', localPart]] as const) {
      if (!parts[name]) continue;
      try {
        await run(build, server);
      } catch (error) {
        // Cut short: what failed is the system going away under the part.
        if (interrupted) return;
        failed = true;
        problems.push(`${name} part failed: ${error instanceof Error ? error.message : String(error)}`);
        console.error(error);
      }
    }
  } finally {
    await cleanUp();
  }
  printSummary();
  if (failed) process.exit(1);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
