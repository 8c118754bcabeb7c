/**
 * What one idle local pod costs: the default simulator program, its share of the pod host, memory and CPU.
 *
 * Run:  node bench/run.cjs bench/local-runtime/pod-footprint.ts
 * POD_COUNT pods of each kind (default 20), measured one kind after the other in this run:
 *   node  the Node pair the runtime used to start (node-baseline/supervise.js + simulator.js),
 *         spawned here exactly as the runtime spawned it            - the baseline
 *   sh    the runtime's own pods today (LocalPodRuntime, default commands: simulator.sh under the
 *         state directory's pod host, whose memory and CPU are shared out among the pods)
 * (bench/local-runtime/runtime-bench.ts compares the pod host with the shell supervisor it replaced.)
 * Once every pod is ready, each pod's process group is summed from /proc: VmRSS (what the brief
 * of this work counts), Pss (RSS with shared pages split between their users), and CPU over
 * CPU_SECONDS (default 5) of idling, helpers that came and went included (a parent's cutime).
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planNodes, planWorkload, type SimulationSpec } from '@simdeploy/domain';
import { waitFor } from '@simdeploy/testing';
import { claimOwnership, LocalPodRuntime, releaseAndKillAll } from '../../libs/cloud/src/local';
import { podFiles, podLabels, podsDir } from '../../libs/cloud/src/local/pod-processes';
import { ownerFile } from '../../libs/cloud/src/local/runtime-owner';

const POD_COUNT = Number(process.env['POD_COUNT'] ?? 20);
const CPU_MS = Number(process.env['CPU_SECONDS'] ?? 5) * 1000;
const POLL_MS = 250;
const GRACE_MS = 2_000;
const TICKS_PER_SECOND = 100; // USER_HZ on Linux
const BASELINE = join(__dirname, 'node-baseline');

const spec: SimulationSpec = { world: 'empty.sdf', simulatorImage: 'gz-sim:8', robots: [], nodeInstanceType: 'local', labels: {} };
const deploymentIds = (kind: string) => Array.from({ length: POD_COUNT }, (_, i) => `bench-${kind}-${process.pid}-${i}`);

interface ProcSample {
  pid: number;
  group: number;
  cpuTicks: number;
}

function readProc(pid: number): ProcSample | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    // After the name: state ppid pgrp ... utime(14) stime(15) cutime(16) cstime(17), 1-based from field 3.
    const ticks = [11, 12, 13, 14].reduce((sum, i) => sum + Number(fields[i]), 0);
    return { pid, group: Number(fields[2]), cpuTicks: ticks };
  } catch {
    return undefined;
  }
}

const processesOfGroups = (groups: ReadonlySet<number>): ProcSample[] =>
  readdirSync('/proc')
    .filter((name) => /^\d+$/.test(name))
    .map((name) => readProc(Number(name)))
    .filter((sample): sample is ProcSample => sample !== undefined && groups.has(sample.group));

function memoryKb(pid: number, file: 'status' | 'smaps_rollup', key: string): number {
  try {
    const match = new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/${file}`, 'utf8'));
    return match ? Number(match[1]) : 0;
  } catch {
    return 0;
  }
}

interface Footprint {
  processesPerPod: number;
  rssMbPerPod: number;
  pssMbPerPod: number;
  cpuMsPerPodSecond: number;
}

async function measure(supervisorPids: readonly number[]): Promise<Footprint> {
  const groups = new Set(supervisorPids);
  await new Promise((resolve) => setTimeout(resolve, 1_000)); // start-up work done, idle from here
  const before = processesOfGroups(groups);
  const rssKb = before.reduce((sum, p) => sum + memoryKb(p.pid, 'status', 'VmRSS'), 0);
  const pssKb = before.reduce((sum, p) => sum + memoryKb(p.pid, 'smaps_rollup', 'Pss'), 0);
  const started = Date.now();
  await new Promise((resolve) => setTimeout(resolve, CPU_MS));
  const after = new Map(processesOfGroups(groups).map((p) => [p.pid, p.cpuTicks]));
  const elapsedS = (Date.now() - started) / 1000;
  // Only processes alive at both ends; a helper that ended inside the window is in its parent's cutime.
  const ticks = before.reduce((sum, p) => sum + (after.has(p.pid) ? (after.get(p.pid) as number) - p.cpuTicks : 0), 0);
  return {
    processesPerPod: before.length / POD_COUNT,
    rssMbPerPod: rssKb / 1024 / POD_COUNT,
    pssMbPerPod: pssKb / 1024 / POD_COUNT,
    cpuMsPerPodSecond: (ticks * 1000) / TICKS_PER_SECOND / elapsedS / POD_COUNT,
  };
}

const waitReady = (readyFiles: readonly string[]) =>
  waitFor(() => readyFiles.every((file) => existsSync(file)), { timeoutMs: 60_000, description: 'every pod ready' });

/** The old runtime's spawn: node supervise.js, detached, labelled, output to the pod log. */
async function nodePods(stateDir: string): Promise<number[]> {
  const pids: number[] = [];
  const ready: string[] = [];
  for (const deploymentId of deploymentIds('node')) {
    const files = podFiles(stateDir, deploymentId, 'sim');
    mkdirSync(podsDir(stateDir, deploymentId), { recursive: true });
    const log = openSync(files.log, 'a');
    const args = ['--pod', files.base, '--owner-file', ownerFile(stateDir), '--grace-ms', String(GRACE_MS), '--poll-ms', String(POLL_MS)];
    const child = spawn(process.execPath, [join(BASELINE, 'supervise.js'), ...args, '--', process.execPath, join(BASELINE, 'simulator.js')], {
      detached: true,
      stdio: ['ignore', log, log],
      env: { ...process.env, ...podLabels(stateDir, deploymentId), SIMDEPLOY_POD_NAME: 'sim', SIMDEPLOY_READY_FILE: files.ready },
    });
    closeSync(log);
    child.unref();
    pids.push(child.pid as number);
    ready.push(files.ready);
  }
  await waitReady(ready);
  return pids;
}

async function shPods(stateDir: string): Promise<number[]> {
  const runtime = new LocalPodRuntime({ stateDir, graceMs: GRACE_MS, ownerPollMs: POLL_MS });
  const ready: string[] = [];
  const pids: number[] = [];
  for (const deploymentId of deploymentIds('sh')) {
    const plan = planWorkload(deploymentId, spec);
    await runtime.createWorkload({ deploymentId, owner: 'bench', spec, plan, nodes: planNodes(deploymentId, spec) });
    for (const pod of plan.pods) {
      const files = podFiles(stateDir, deploymentId, pod.name);
      ready.push(files.ready);
      pids.push((JSON.parse(readFileSync(files.record, 'utf8')) as { pid: number }).pid);
    }
  }
  await waitReady(ready);
  const host = (JSON.parse(readFileSync(join(stateDir, 'pod-host.json'), 'utf8')) as { pid: number }).pid;
  return [...pids, host];
}

async function run(kind: string, start: (stateDir: string) => Promise<number[]>): Promise<Footprint> {
  const stateDir = mkdtempSync(join(tmpdir(), `simdeploy-footprint-${kind}-`));
  try {
    await claimOwnership(stateDir);
    return await measure(await start(stateDir));
  } finally {
    await releaseAndKillAll(stateDir, GRACE_MS);
    rmSync(stateDir, { recursive: true, force: true });
  }
}

const fixed = (value: number, digits = 1) => value.toFixed(digits);

async function main(): Promise<void> {
  const node = await run('node', nodePods);
  const sh = await run('sh', shPods);
  console.log(`${POD_COUNT} idle pods of each kind, owner poll ${POLL_MS} ms, CPU over ${CPU_MS / 1000} s`);
  console.log('kind  processes/pod  RSS MB/pod  PSS MB/pod  CPU ms/s/pod');
  for (const [kind, f] of [['node', node], ['sh', sh]] as const) {
    console.log(
      `${kind.padEnd(4)}  ${fixed(f.processesPerPod).padStart(13)}  ${fixed(f.rssMbPerPod).padStart(10)}  ${fixed(f.pssMbPerPod).padStart(10)}  ${fixed(f.cpuMsPerPodSecond, 2).padStart(12)}`,
    );
  }
  console.log(`RSS per pod: node/sh = ${fixed(node.rssMbPerPod / sh.rssMbPerPod)}x; PSS: ${fixed(node.pssMbPerPod / sh.pssMbPerPod)}x`);
  console.log(`600 pods (200 simulations): node ${fixed((600 * node.rssMbPerPod) / 1024)} GiB RSS, sh ${fixed((600 * sh.rssMbPerPod) / 1024)} GiB RSS`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
