import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import { stopDeployment, workloadsDir } from './pod-processes';
import { isProcessRunning, processStartTime } from './process-identity';
import { listEntries, readJson, writeFileAtomic } from './state-files';

/**
 * Pods run detached, in their own process group, under tools/simulator/supervise.sh, so they
 * outlive a restart of the launcher that spawned them. What they must not outlive is the local
 * system itself: its "owner" process (the `npm start` supervisor, or the test process) is named
 * in <stateDir>/owner.pid, and every pod supervisor polls that file; when the named process is
 * gone (or the file is removed) the supervisor stops its pod and exits.
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

export async function isOwnerAlive(stateDir: string): Promise<boolean> {
  const owner = await readJson<OwnerRecord>(ownerFile(stateDir)).catch(() => undefined);
  if (!owner || !isProcessRunning(owner.pid)) return false;
  return owner.startTime === undefined || processStartTime(owner.pid) === owner.startTime;
}

export async function ensureOwner(stateDir: string): Promise<void> {
  if (!(await isOwnerAlive(stateDir))) await claimOwnership(stateDir);
}

/** Gives up ownership and stops every pod under stateDir, SIGKILLing after graceMs. Answers whether all are gone. */
export async function releaseAndKillAll(stateDir: string, graceMs = 5_000): Promise<boolean> {
  await fs.rm(ownerFile(stateDir), { force: true });
  const deployments = await listEntries(workloadsDir(stateDir));
  const results = await Promise.all(deployments.map((id) => stopDeployment(stateDir, id, graceMs)));
  return results.every(Boolean);
}
