import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { PodHostClient } from './pod-host-client';
import { deploymentDir, killStrays, strayPodProcesses, workloadsDir } from './pod-processes';
import { isProcessRunning, processStartTime, signalGroup } from './process-identity';
import { listEntries, readJson, writeFileAtomic } from './state-files';

/**
 * Who the local runtime's pods belong to. Pods run under one pod host process per state
 * directory (pod-host.ts), started detached by the first service that needs it, so pods
 * outlive a restart of the launcher that created them. What they must not outlive is the
 * local system itself: its "owner" process (the `npm start` supervisor, or the test process)
 * is named in <stateDir>/owner.pid, and the host checks every ownerPollMs that it still runs;
 * when it is gone (even killed with -9), or the file is removed, the host stops every pod and
 * exits, and the pods, bound to the host by a parent-death signal, cannot outlive it.
 *
 * When nobody has claimed ownership, the first process that starts a pod claims it, so pods never
 * run unowned; in that fallback a restart of that process does stop its pods, and the next
 * checkWorkload reports them failed.
 */
interface OwnerRecord {
  pid: number;
  startTime?: string;
}

export const ownerFile = (stateDir: string): string => join(stateDir, 'owner.pid');

/** Names this process as the owner of every pod under stateDir. */
export async function claimOwnership(stateDir: string): Promise<void> {
  await fs.mkdir(stateDir, { recursive: true });
  const record: OwnerRecord = { pid: process.pid, startTime: processStartTime(process.pid) };
  await writeFileAtomic(ownerFile(stateDir), JSON.stringify(record));
}

/** Alive, not a zombie, and started when it was recorded (a reused pid is not the owner). */
export async function isOwnerAlive(stateDir: string): Promise<boolean> {
  const owner = await readJson<OwnerRecord>(ownerFile(stateDir)).catch(() => undefined);
  if (!owner || !isProcessRunning(owner.pid)) return false;
  return owner.startTime === undefined || processStartTime(owner.pid) === owner.startTime;
}

export async function ensureOwner(stateDir: string): Promise<void> {
  if (!(await isOwnerAlive(stateDir))) await claimOwnership(stateDir);
}

const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Gives up ownership and stops every pod under stateDir (SIGTERM, SIGKILL after graceMs), the
 * pod host's included, then removes their files. Also kills what no host looks after (what a
 * pod of a host killed with -9 left in the background). Answers whether nothing is left.
 */
export async function releaseAndKillAll(stateDir: string, graceMs = 5_000): Promise<boolean> {
  await fs.rm(ownerFile(stateDir), { force: true });
  const client = new PodHostClient(stateDir, { ownerPollMs: 250, graceMs });
  // The host may notice the owner file gone first and stop on its own: then the connection closes.
  const answer = await client
    .request({ op: 'stopAll', graceMs, reason: 'the local system was stopped', exit: true }, { start: false, timeoutMs: graceMs + 30_000 })
    .catch(() => undefined);
  client.close();
  let strays = await strayPodProcesses(stateDir);
  strays.forEach((pid) => signalGroup(pid, 'SIGTERM'));
  const deadline = Date.now() + graceMs;
  while (strays.length > 0 && Date.now() < deadline) {
    await pause(50);
    strays = strays.filter(isProcessRunning);
  }
  killStrays(strays);
  strays = strays.filter(isProcessRunning);
  await Promise.all((await listEntries(workloadsDir(stateDir))).map((id) => fs.rm(deploymentDir(stateDir, id), { recursive: true, force: true })));
  return answer?.gone !== false && strays.length === 0;
}
