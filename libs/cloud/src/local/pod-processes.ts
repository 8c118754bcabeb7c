import { join, resolve } from 'node:path';
import { findProcessesWithEnv, signalGroup } from './process-identity';

/**
 * Files of the local runtime under its state directory:
 *   owner.pid                                   the runtime owner (see runtime-owner.ts)
 *   pod-host.json, pod-host.token, pod-host.log the pod host (see pod-host.ts)
 *   workloads/<deploymentId>/workload.json      services and network policies, as recorded
 *   workloads/<deploymentId>/pods/<pod>.json    the pod's record: pid of its command, start time
 *   workloads/<deploymentId>/pods/<pod>.log     the pod's stdout and stderr, and the host's lines about it
 *   workloads/<deploymentId>/pods/<pod>.ready   created by the pod program when it is ready
 *   workloads/<deploymentId>/pods/<pod>.exit    written by the pod host when the command ends
 *   workloads/<deploymentId>/pods/<pod>.port    the simulator's port, for the access proxy
 */
export const workloadsDir = (stateDir: string): string => join(stateDir, 'workloads');
export const deploymentDir = (stateDir: string, deploymentId: string): string => join(workloadsDir(stateDir), deploymentId);
export const podsDir = (stateDir: string, deploymentId: string): string => join(deploymentDir(stateDir, deploymentId), 'pods');

export interface PodFiles {
  /** Path prefix shared by the pod's files. */
  base: string;
  record: string;
  log: string;
  ready: string;
  exit: string;
  port: string;
}

export function podFiles(stateDir: string, deploymentId: string, podName: string): PodFiles {
  const base = join(podsDir(stateDir, deploymentId), podName);
  return { base, record: `${base}.json`, log: `${base}.log`, ready: `${base}.ready`, exit: `${base}.exit`, port: `${base}.port` };
}

export interface PodRecord {
  /** The pod command's own pid (it leads its process group); null when it could not be started. */
  pid: number | null;
  name: string;
  role: string;
  command: string[];
  startedAt: string;
  /** The simulator's port, for simulator pods. */
  port?: number;
}

/** How the pod command ended, written once by the pod host. */
export interface PodExit {
  code: number | null;
  signal: string | null;
  /** `exited` when it ended on its own; otherwise why it was stopped (`deleted`, `runtime owner is gone`, ...). */
  reason: string;
  at: string;
}

export const describeExit = (exit: PodExit): string =>
  (exit.signal ? `killed by signal ${exit.signal}` : exit.code === null ? 'is gone without an exit status' : `exited with code ${exit.code}`) +
  (exit.reason === 'exited' ? '' : ` (${exit.reason})`);

/** The environment every pod process carries, which also lets us find them without any record. */
export const podLabels = (stateDir: string, deploymentId: string): Record<string, string> => ({
  SIMDEPLOY_STATE_DIR: resolve(stateDir),
  SIMDEPLOY_DEPLOYMENT_ID: deploymentId,
});

/**
 * Processes carrying the state directory's label that no pod host looks after: what a pod
 * started in the background when its host was killed with -9 (the parent-death signal only
 * reaches the pod command itself). One /proc scan, so only for rare paths: a host starting,
 * the owner releasing everything.
 */
export const strayPodProcesses = (stateDir: string): Promise<number[]> => findProcessesWithEnv({ SIMDEPLOY_STATE_DIR: resolve(stateDir) });

export function killStrays(pids: readonly number[]): void {
  pids.forEach((pid) => signalGroup(pid, 'SIGKILL'));
}
