/**
 * The local runtime at scale: DEPLOYMENTS workloads of 3 pods each (simulator, robot, bridge)
 * created through the PodRuntime port by POOL concurrent callers (a launcher's pool), checked
 * with checkWorkloadBatch every POLL_MS until all are ready, then deleted by POOL callers that
 * ask again, POLL_MS later, for a deployment not gone yet (a terminator's retries).
 *
 * Run:  node bench/run.cjs bench/local-runtime/runtime-bench.ts
 *   DEPLOYMENTS           default 1000
 *   BASELINE_DEPLOYMENTS  the old runtime's count; default DEPLOYMENTS, 0 skips it
 *   BASELINE_REV          the commit whose runtime is the baseline (supervise.sh per pod); default 20243bd
 *   POOL, POLL_MS         default 10, 1000
 *   PHASE_TIMEOUT_S       a phase not done by then is reported as such and cleaned up; default 300
 *
 * The baseline is the runtime of BASELINE_REV, taken from git (git archive) into a temp
 * directory and loaded from its sources in this same run, measured the same way.
 * Prints, per runtime: time until every workload was created and until all were ready, time
 * from the first delete until all were gone, errors, the processes of the pods (their process
 * groups, and the pod host) and the 1-minute load average at their peak, the CPU seconds of
 * the callers (this process) and the pod host, and those of the whole machine over the run.
 * It loads the machine: run it on its own.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { planNodes, planWorkload, type SimulationSpec } from '@simdeploy/domain';
import type { PodRuntime, ReadinessCheck, WorkloadRequest } from '../../libs/cloud/src/ports';
import * as current from '../../libs/cloud/src/local';

const env = (name: string, fallback: number) => Number(process.env[name] ?? fallback);
const DEPLOYMENTS = env('DEPLOYMENTS', 1000);
const BASELINE_DEPLOYMENTS = env('BASELINE_DEPLOYMENTS', DEPLOYMENTS);
const BASELINE_REV = process.env['BASELINE_REV'] ?? '20243bd';
const POOL = env('POOL', 10);
const POLL_MS = env('POLL_MS', 1000);
const PHASE_TIMEOUT_MS = env('PHASE_TIMEOUT_S', 300) * 1000;
const GRACE_MS = 5_000;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const ROOT = resolve(__dirname, '../..');

const spec: SimulationSpec = { world: 'empty.sdf', simulatorImage: 'gz-sim:8', robots: [{ name: 'r0', image: 'robot:1' }], nodeInstanceType: 'local', labels: {} };

interface RuntimeModule {
  LocalPodRuntime: new (options: { stateDir: string; graceMs?: number }) => PodRuntime;
  claimOwnership(stateDir: string): Promise<void>;
  releaseAndKillAll(stateDir: string, graceMs?: number): Promise<boolean>;
}

interface Result {
  kind: string;
  deployments: number;
  createdS: number;
  readyS: number | null;
  ready: number;
  goneS: number | null;
  gone: number;
  errors: number;
  peakProcesses: number;
  peakLoad: number;
  leftAfterwards: number;
  cpuS: number;
  machineCpuS: number;
  hostRssMb: number | null;
}

/** Busy CPU seconds of the whole machine so far (other users of the machine included). */
function machineBusySeconds(): number {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '').trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal
  const busy = [0, 1, 2, 5, 6, 7].reduce((sum, i) => sum + (fields[i] ?? 0), 0);
  return busy / TICKS_PER_SECOND;
}

const seconds = (ms: number) => Math.round(ms / 100) / 10;
const progress = (kind: string, line: string) => console.log(`[${kind}] ${line}; load ${(loadavg()[0] ?? 0).toFixed(1)}`);
const pause = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Stat {
  pid: number;
  pgrp: number;
  ticks: number;
}

/**
 * Every process's group and CPU ticks, read from /proc. Empty when this process is out of file
 * descriptors: the old runtime, reading every process's environment at once, can use them all.
 */
function stats(): Stat[] {
  const found: Stat[] = [];
  let entries: string[];
  try {
    entries = readdirSync('/proc');
  } catch {
    return found;
  }
  for (const entry of entries) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const text = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
      // After the name: state(0) ppid(1) pgrp(2) ... utime(11) stime(12) cutime(13) cstime(14)
      found.push({ pid: Number(entry), pgrp: Number(fields[2]), ticks: [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0) });
    } catch {
      // gone meanwhile
    }
  }
  return found;
}

/** Pod processes: the process groups the pods lead (each pod, or each old supervisor, leads one), and the pod host's. */
function groupsOf(stateDir: string, deploymentIds: readonly string[]): Set<number> {
  const groups = new Set<number>();
  for (const id of deploymentIds) {
    const dir = join(stateDir, 'workloads', id, 'pods');
    let files: string[] = [];
    try {
      files = readdirSync(dir).filter((f) => f.endsWith('.json'));
    } catch {
      continue;
    }
    for (const file of files) {
      try {
        const pid = (JSON.parse(readFileSync(join(dir, file), 'utf8')) as { pid: number | null }).pid;
        if (pid) groups.add(pid);
      } catch {
        // being written
      }
    }
  }
  const host = hostPid(stateDir);
  if (host) groups.add(host);
  return groups;
}

function hostPid(stateDir: string): number | undefined {
  try {
    return (JSON.parse(readFileSync(join(stateDir, 'pod-host.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
}

function rssMb(pid: number): number | null {
  try {
    const match = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return match ? Number(match[1]) / 1024 : null;
  } catch {
    return null;
  }
}

/** Runs `work` on each item with `pool` callers at once. */
async function withPool<T>(items: readonly T[], pool: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(pool, items.length) }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function measure(kind: string, module: RuntimeModule, count: number): Promise<Result> {
  const stateDir = mkdtempSync(join(tmpdir(), `simdeploy-runtime-bench-${kind}-`));
  await module.claimOwnership(stateDir);
  const runtime = new module.LocalPodRuntime({ stateDir, graceMs: GRACE_MS });
  const requests: WorkloadRequest[] = Array.from({ length: count }, (_, i) => {
    const deploymentId = `bench-${kind}-${i}`;
    return { deploymentId, owner: 'bench', spec, plan: planWorkload(deploymentId, spec), nodes: planNodes(deploymentId, spec) };
  });
  const ids = requests.map((r) => r.deploymentId);
  let errors = 0;
  let peakProcesses = 0;
  let peakLoad = 0;
  let groups = new Set<number>();
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peakLoad = Math.max(peakLoad, loadavg()[0] ?? 0);
      peakProcesses = Math.max(peakProcesses, stats().filter((s) => groups.has(s.pgrp)).length);
      await pause(5_000);
    }
  })();
  const cpuBefore = process.cpuUsage();
  const machineBefore = machineBusySeconds();
  const started = Date.now();
  try {
    await withPool(requests, POOL, async (request) => {
      if (Date.now() - started > PHASE_TIMEOUT_MS) return; // not created: never ready, reported as such
      await runtime.createWorkload(request).catch(() => (errors += 1));
    });
    const createdS = seconds(Date.now() - started);
    progress(kind, `created ${count} workloads (${errors} errors) at ${createdS} s`);
    groups = groupsOf(stateDir, ids);
    const host = hostPid(stateDir);

    const waiting = new Map(requests.map((r) => [r.deploymentId, { deploymentId: r.deploymentId, pods: r.plan.pods }]));
    while (waiting.size > 0 && Date.now() - started < PHASE_TIMEOUT_MS) {
      const round = Date.now();
      const answers: Map<string, ReadinessCheck> = await runtime.checkWorkloadBatch([...waiting.values()]).catch(() => new Map());
      for (const [id, check] of answers) {
        if (check.state === 'pending') continue;
        if (check.state === 'failed') errors += 1;
        waiting.delete(id);
      }
      await pause(Math.max(0, POLL_MS - (Date.now() - round)));
    }
    const readyS = waiting.size === 0 ? seconds(Date.now() - started) : null;
    const ready = count - waiting.size;
    progress(kind, `${ready} of ${count} ready or failed at ${seconds(Date.now() - started)} s (${errors} errors so far)`);
    groups = groupsOf(stateDir, ids);
    peakLoad = Math.max(peakLoad, loadavg()[0] ?? 0);
    peakProcesses = Math.max(peakProcesses, stats().filter((s) => groups.has(s.pgrp)).length);
    const hostRssMb = host ? rssMb(host) : null;
    const hostTicksBefore = stats().find((s) => s.pid === host)?.ticks ?? 0;

    const deleting = Date.now();
    const left = [...ids];
    let gone = 0;
    await withPool(Array.from({ length: POOL }), POOL, async () => {
      while (left.length > 0 && Date.now() - deleting < PHASE_TIMEOUT_MS) {
        const id = left.shift() as string;
        const answer = await runtime.deleteWorkload(id).catch(() => {
          errors += 1;
          return { gone: false };
        });
        if (answer.gone) gone += 1;
        else {
          left.push(id);
          await pause(POLL_MS);
        }
      }
    });
    const goneS = gone === count ? seconds(Date.now() - deleting) : null;
    progress(kind, `${gone} of ${count} gone ${seconds(Date.now() - deleting)} s after the first delete (${errors} errors so far)`);
    const hostTicks = (stats().find((s) => s.pid === host)?.ticks ?? hostTicksBefore) - hostTicksBefore;
    const own = process.cpuUsage(cpuBefore);
    const leftAfterwards = stats().filter((s) => groups.has(s.pgrp) && s.pid !== host).length;
    return {
      kind,
      deployments: count,
      createdS,
      readyS,
      ready,
      goneS,
      gone,
      errors,
      peakProcesses,
      peakLoad,
      leftAfterwards,
      cpuS: Math.round((own.user + own.system) / 1e5) / 10 + hostTicks / TICKS_PER_SECOND,
      machineCpuS: machineBusySeconds() - machineBefore,
      hostRssMb,
    };
  } finally {
    sampling = false;
    await sampler;
    // What a phase that ran out of time left: killed outright, so that the cleanup does not take longer than the run.
    const leftover = groupsOf(stateDir, ids);
    if (stats().some((s) => leftover.has(s.pgrp) && s.pid !== hostPid(stateDir))) {
      for (const group of leftover) {
        try {
          process.kill(-group, 'SIGKILL');
        } catch {
          // gone
        }
      }
    }
    await module.releaseAndKillAll(stateDir, GRACE_MS);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** The runtime of an earlier commit, from git, loaded from its TypeScript sources (bench/run.cjs compiles them). */
function baseline(rev: string): { module: RuntimeModule; dir: string } {
  const dir = mkdtempSync(join(tmpdir(), 'simdeploy-baseline-runtime-'));
  const archive = execFileSync('git', ['-C', ROOT, 'archive', rev, 'libs/cloud/src', 'tools/simulator'], { maxBuffer: 64 * 1024 * 1024 });
  execFileSync('tar', ['-x', '-C', dir], { input: archive });
  return { module: require(join(dir, 'libs/cloud/src/local/index.ts')) as RuntimeModule, dir };
}

function print(results: readonly Result[]): void {
  const cell = (value: number | null, unit = '') => (value === null ? 'not done' : `${value}${unit}`);
  console.log(`\n${results.map((r) => `${r.kind}: ${r.deployments} deployments`).join(', ')}; 3 pods each, pool ${POOL}, poll ${POLL_MS} ms, phase limit ${PHASE_TIMEOUT_MS / 1000} s`);
  console.log('runtime    created  all ready   ready  all gone   gone  errors  peak processes  per pod  peak load  left  caller+host CPU s  machine CPU s  host RSS MB');
  for (const r of results) {
    console.log(
      [
        r.kind.padEnd(9),
        cell(r.createdS, ' s').padStart(8),
        cell(r.readyS, ' s').padStart(10),
        String(r.ready).padStart(7),
        cell(r.goneS, ' s').padStart(9),
        String(r.gone).padStart(6),
        String(r.errors).padStart(7),
        String(r.peakProcesses).padStart(15),
        (r.peakProcesses / (3 * r.deployments)).toFixed(2).padStart(8),
        r.peakLoad.toFixed(1).padStart(10),
        String(r.leftAfterwards).padStart(5),
        r.cpuS.toFixed(1).padStart(18),
        r.machineCpuS.toFixed(0).padStart(14),
        (r.hostRssMb === null ? '-' : r.hostRssMb.toFixed(0)).padStart(12),
      ].join(' '),
    );
  }
}

async function main(): Promise<void> {
  const results = [await measure('pod-host', current as unknown as RuntimeModule, DEPLOYMENTS)];
  print(results);
  if (BASELINE_DEPLOYMENTS > 0) {
    const old = baseline(BASELINE_REV);
    try {
      results.push(await measure(`baseline`, old.module, BASELINE_DEPLOYMENTS));
    } finally {
      rmSync(old.dir, { recursive: true, force: true });
    }
    print(results);
    console.log(`baseline: the runtime of ${BASELINE_REV} (supervise.sh, tail and a timer per pod)`);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
