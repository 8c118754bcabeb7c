import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { findProcessesWithEnv, isProcessRunning, processCmdline, signalGroup } from './process-identity';
import { listEntries, readJson } from './state-files';

/**
 * Files of the local runtime under its state directory:
 *   owner.pid                                   the runtime owner (see runtime-owner.ts)
 *   workloads/<deploymentId>/workload.json      services and network policies, as recorded
 *   workloads/<deploymentId>/pods/<pod>.json    pid of the pod's supervisor
 *   workloads/<deploymentId>/pods/<pod>.log     the pod's stdout and stderr
 *   workloads/<deploymentId>/pods/<pod>.ready   created by the pod program when it is ready
 *   workloads/<deploymentId>/pods/<pod>.exit    written by the supervisor when the program exits
 */
export const workloadsDir = (stateDir: string): string => join(stateDir, 'workloads');
export const deploymentDir = (stateDir: string, deploymentId: string): string => join(workloadsDir(stateDir), deploymentId);
export const podsDir = (stateDir: string, deploymentId: string): string => join(deploymentDir(stateDir, deploymentId), 'pods');

export interface PodFiles {
  /** Path prefix shared by the pod's files; also on the supervisor's command line, to recognise it. */
  base: string;
  record: string;
  log: string;
  ready: string;
  exit: string;
}

export function podFiles(stateDir: string, deploymentId: string, podName: string): PodFiles {
  const base = join(podsDir(stateDir, deploymentId), podName);
  return { base, record: `${base}.json`, log: `${base}.log`, ready: `${base}.ready`, exit: `${base}.exit` };
}

export interface PodRecord {
  pid: number;
  name: string;
  role: string;
  command: string[];
  startedAt: string;
}

/** What the supervisor writes when the pod program ends. */
export interface PodExit {
  code: number | null;
  signal: string | null;
  reason: string;
  at: string;
}

/** Alive and really the supervisor of this pod: a reused pid would not carry the pod's path on its command line. */
export async function isPodAlive(record: PodRecord | undefined, files: PodFiles): Promise<boolean> {
  if (!record || !isProcessRunning(record.pid)) return false;
  const cmdline = await processCmdline(record.pid);
  return cmdline === undefined || cmdline.includes(files.base);
}

/** The environment every pod process carries, which also lets us find them without any record. */
export const podLabels = (stateDir: string, deploymentId: string): Record<string, string> => ({
  SIMDEPLOY_STATE_DIR: resolve(stateDir),
  SIMDEPLOY_DEPLOYMENT_ID: deploymentId,
});

/** The recorded pod supervisors of the deployment that are still alive: cheap, no /proc scan. */
async function recordedPids(stateDir: string, deploymentId: string): Promise<number[]> {
  const recorded = await Promise.all(
    (await listEntries(podsDir(stateDir, deploymentId), '.json')).map(async (name) => {
      const files = podFiles(stateDir, deploymentId, name);
      const record = await readJson<PodRecord>(files.record);
      return record && (await isPodAlive(record, files)) ? record.pid : undefined;
    }),
  );
  return recorded.filter((pid): pid is number => pid !== undefined);
}

/**
 * Every live process of the deployment: recorded supervisors, plus any process carrying the
 * deployment's labels (a pod spawned by a process that died before it could record the pid).
 * The label search reads every process's environment, so it is kept off polling loops.
 */
export async function deploymentPids(stateDir: string, deploymentId: string): Promise<number[]> {
  const recorded = await recordedPids(stateDir, deploymentId);
  const labelled = await findProcessesWithEnv(podLabels(stateDir, deploymentId));
  return [...new Set([...recorded, ...labelled])];
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function waitUntilGone(
  stateDir: string,
  deploymentId: string,
  timeoutMs: number,
  find: (stateDir: string, deploymentId: string) => Promise<number[]> = deploymentPids,
): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const alive = await find(stateDir, deploymentId);
    if (alive.length === 0 || Date.now() >= deadline) return alive;
    await pause(50);
  }
}

/**
 * One step of stopping a deployment's pods, for callers that must not wait (a worker asks
 * again later): SIGTERM to each pod's process group, SIGKILL once graceMs have passed since
 * the first request (remembered in a file, so any process may take the next step). Waits
 * only briefly for pods that exit at once. Answers whether no process of the deployment is
 * left; the deployment's files are removed then.
 */
export async function stopDeploymentStep(stateDir: string, deploymentId: string, graceMs: number): Promise<boolean> {
  const marker = join(deploymentDir(stateDir, deploymentId), 'stopping');
  const signalAll = async (pids: number[]) => {
    const since = await fs.readFile(marker, 'utf8').then(Number, () => undefined);
    if (since === undefined) await fs.writeFile(marker, String(Date.now())).catch(() => undefined);
    const signal = since !== undefined && Date.now() - since >= graceMs ? 'SIGKILL' : 'SIGTERM';
    pids.forEach((pid) => signalGroup(pid, signal));
  };
  const recorded = await recordedPids(stateDir, deploymentId);
  if (recorded.length > 0) {
    await signalAll(recorded);
    if ((await waitUntilGone(stateDir, deploymentId, 250, recordedPids)).length > 0) return false;
  }
  // Nothing recorded is left: one full search for pods nobody recorded.
  const unrecorded = await deploymentPids(stateDir, deploymentId);
  if (unrecorded.length > 0) {
    await signalAll(unrecorded);
    return false;
  }
  await fs.rm(deploymentDir(stateDir, deploymentId), { recursive: true, force: true });
  return true;
}

/**
 * SIGTERM to each pod's process group, SIGKILL to what is left after graceMs; then removes the
 * deployment's files. Answers whether no process of the deployment is left.
 */
export async function stopDeployment(stateDir: string, deploymentId: string, graceMs: number): Promise<boolean> {
  const running = await deploymentPids(stateDir, deploymentId);
  running.forEach((pid) => signalGroup(pid, 'SIGTERM'));
  let alive = running.length === 0 ? running : await waitUntilGone(stateDir, deploymentId, graceMs);
  if (alive.length > 0) {
    alive.forEach((pid) => signalGroup(pid, 'SIGKILL'));
    alive = await waitUntilGone(stateDir, deploymentId, 2_000);
  }
  if (alive.length > 0) return false;
  await fs.rm(deploymentDir(stateDir, deploymentId), { recursive: true, force: true });
  return true;
}
