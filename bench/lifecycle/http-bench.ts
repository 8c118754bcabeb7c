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
import { rmSync } from 'node:fs';
import { cpus } from 'node:os';
import { parseArgs } from 'node:util';
import {
  CLIENT_POLL_MS,
  LIST_POLL_MS,
  REQUESTED,
  RUNNING,
  STOP_REQUESTED,
  TERMINATED,
  counters,
  cpuMeter,
  eventSpan,
  histories,
  launch,
  launchBreakdown,
  live,
  memAvailableMb,
  natsServerPid,
  podProcesses,
  pollUntil,
  seconds,
  simulatorEnv,
  snapshotBuild,
  spread,
  startSystem,
  stopSimulation,
  throughput,
  waitAll,
} from '../support/system';

const quick = parseArgs({ options: { quick: { type: 'boolean', default: false } } }).values.quick === true;

const BASELINE_WINDOW = 64;
const BASELINE_MS = Number(process.env['BENCH_SECONDS'] ?? (quick ? 2 : 4)) * 1000;
const CLIENTS = Number(process.env['BENCH_CLIENTS'] ?? 16);
const LIFECYCLES = quick ? 60 : 300;
const LIFECYCLE_PHASE_MS = quick ? 60_000 : 150_000;
const LAUNCHES = quick ? 40 : 200;
const BOOT_DELAY_MS = quick ? 10_000 : 30_000;
const POOL_SIZE = 10;
const WAIT_POLL_MS = 1000;
/** A pod is a Node supervisor plus the simulator; generous, so the estimate errs on the safe side. */
const POD_MB_ESTIMATE = 60;
const MEMORY_MARGIN_MB = 2048;

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
    const requestsBefore = counters.requests;
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
    const httpRequests = counters.requests - requestsBefore;
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
