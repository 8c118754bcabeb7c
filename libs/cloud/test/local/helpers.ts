import { promises as fs } from 'node:fs';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { planNodes, planWorkload, type SimulationSpec } from '@simdeploy/domain';
import { randomBytes } from 'node:crypto';
import { waitFor } from '@simdeploy/testing';
import type { PodRuntime, WorkloadRequest } from '../../src/ports';

export const tempStateDir = (): string => mkdtempSync(join(tmpdir(), 'simdeploy-local-test-'));

/** A valid deployment id (lower-case DNS label) no other run uses. */
export const uniqueDeploymentId = (): string => `t${process.pid}-${randomBytes(4).toString('hex')}`;

export const specWithRobots = (robots = 1): SimulationSpec => ({
  world: 'empty.sdf',
  simulatorImage: 'gz-sim:8',
  robots: Array.from({ length: robots }, (_, i) => ({ name: `robot${i}`, image: 'robot:1' })),
  nodeInstanceType: 'local',
  labels: {},
});

export function workloadRequest(deploymentId: string, spec = specWithRobots()): WorkloadRequest {
  return { deploymentId, owner: 'alice', spec, plan: planWorkload(deploymentId, spec), nodes: planNodes(deploymentId, spec) };
}

/** Running, not merely an unreaped zombie (a killed orphan stays one until init reaps it). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return false;
  }
}

/** Every live process (not zombie) whose environment or command line mentions the text, by scanning /proc. */
export async function processesMentioning(text: string): Promise<number[]> {
  const found: number[] = [];
  for (const entry of await fs.readdir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const [environ = '', cmdline = ''] = await Promise.all(['environ', 'cmdline'].map((file) => fs.readFile(`/proc/${pid}/${file}`, 'utf8')));
      if (isAlive(pid) && (environ.includes(text) || cmdline.includes(text))) found.push(pid);
    } catch {
      // exited while we looked, or not ours to read
    }
  }
  return found;
}

/** The pid of the state directory's pod host, from the file it writes once it serves. */
export const podHostPid = (stateDir: string): number | undefined => {
  try {
    return (JSON.parse(readFileSync(join(stateDir, 'pod-host.json'), 'utf8')) as { pid: number }).pid;
  } catch {
    return undefined;
  }
};

/** The single item, or a failed test saying how many there were. */
export function only<T>(items: readonly T[]): T {
  if (items.length !== 1) throw new Error(`expected exactly one item, got ${items.length}`);
  return items[0] as T;
}

/** Deleting does not wait for pods to exit; callers ask again until everything is gone. */
export async function deleteUntilGone(runtime: PodRuntime, deploymentId: string): Promise<void> {
  await waitFor(async () => (await runtime.deleteWorkload(deploymentId)).gone, { description: `${deploymentId} deleted` });
}
