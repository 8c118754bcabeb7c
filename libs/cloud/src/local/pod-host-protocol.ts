import { createHash, randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join, resolve } from 'node:path';
import { StringDecoder } from 'node:string_decoder';
import type { PodExit } from './pod-processes';
import { createFileExclusive } from './state-files';

/**
 * What the services (through LocalPodRuntime) and the pod host say to each other: one JSON
 * object per line on a unix socket, each request with an id and the state directory's token,
 * each answer with the same id.
 */

/** How a simulator pod is reached by the access proxy. */
export type SimulatorSocketMode =
  /** The host serves a WebSocket on the pod's port and bridges it, line by line, to the pod's stdin and stdout. */
  | 'stdio-bridge'
  /** The command is given the port (SIMDEPLOY_SIMULATOR_PORT) and listens there itself. */
  | 'command';

export interface PodLaunch {
  name: string;
  role: string;
  command: string[];
  env: Record<string, string>;
  /** Simulator pods only. */
  simulatorSocket?: SimulatorSocketMode;
}

export type HostRequest =
  | { op: 'ping' }
  | { op: 'start'; deploymentId: string; workload: object; pods: PodLaunch[] }
  | { op: 'check'; deployments: { deploymentId: string; pods: string[] }[] }
  | { op: 'stop'; deploymentIds: string[]; graceMs: number; waitMs: number; reason: string }
  | { op: 'stopAll'; graceMs: number; reason: string; exit: boolean };

export type PodStatus =
  | { state: 'missing' }
  | { state: 'running' | 'ready'; pid: number; startedAt: string }
  | { state: 'exited'; pid: number | null; startedAt: string; exit: PodExit };

export interface HostAnswers {
  ping: { pid: number };
  /** Per pod: started now, or left alone because it was started before (running or not). */
  start: { pods: Record<string, 'started' | 'existing'> };
  check: { deployments: Record<string, Record<string, PodStatus>> };
  stop: { gone: Record<string, boolean> };
  stopAll: { gone: boolean };
}

export type Op = HostRequest['op'];
export type RequestOf<O extends Op> = Extract<HostRequest, { op: O }>;

export interface Envelope {
  id: number;
  token: string;
  request: HostRequest;
}

export type Reply = { id: number; result: unknown } | { id: number; error: string };

/**
 * One host per state directory. On Linux the socket lives in the abstract namespace: binding
 * it is the lock (a second host gets EADDRINUSE), and it disappears with the process, so no
 * stale file can lock a restarted host out. Elsewhere a socket file in the state directory.
 */
export function hostSocketPath(stateDir: string): string {
  if (process.platform === 'linux') {
    const id = createHash('sha256').update(resolve(stateDir)).digest('hex').slice(0, 24);
    return `\0simdeploy-pod-host-${id}`;
  }
  return join(stateDir, 'pod-host.sock');
}

export const hostInfoFile = (stateDir: string): string => join(stateDir, 'pod-host.json');
export const hostLogFile = (stateDir: string): string => join(stateDir, 'pod-host.log');
const tokenFile = (stateDir: string): string => join(stateDir, 'pod-host.token');

export interface HostInfo {
  pid: number;
  startTime?: string;
  startedAt: string;
}

/**
 * The secret a client must send with every request: an abstract socket has no file
 * permissions, so what keeps other users of the machine from asking the host to run commands
 * is this file, readable by the state directory's user only. Created once, by whoever comes first.
 */
export async function stateDirToken(stateDir: string): Promise<string> {
  const file = tokenFile(stateDir);
  const read = () => fs.readFile(file, 'utf8').then((text) => text.trim());
  try {
    return await read();
  } catch {
    await fs.mkdir(stateDir, { recursive: true });
    await createFileExclusive(file, randomBytes(24).toString('hex'), 0o600);
    return read();
  }
}

/** Splits a byte stream into lines; the last, unfinished one (or character) is kept for the next chunk. */
export function lineReader(onLine: (line: string) => void): (chunk: Buffer | string) => void {
  const decoder = new StringDecoder('utf8');
  let pending = '';
  return (chunk) => {
    pending += typeof chunk === 'string' ? chunk : decoder.write(chunk);
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      const line = pending.slice(0, newline);
      pending = pending.slice(newline + 1);
      if (line.length > 0) onLine(line);
      newline = pending.indexOf('\n');
    }
  };
}
