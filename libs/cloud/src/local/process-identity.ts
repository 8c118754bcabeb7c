import { promises as fs, readFileSync } from 'node:fs';

/**
 * Liveness of processes this service may not have spawned (another replica or an earlier run
 * did). A pid alone can be reused, so callers also match the process's start time or cmdline.
 */

/** Alive and not a zombie. EPERM means it exists but belongs to someone else. */
export function isProcessRunning(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  const stat = readProcStat(pid);
  return stat === undefined || stat.state !== 'Z';
}

function readProcStat(pid: number): { state: string; startTime: string } | undefined {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // The command name (field 2) may hold spaces and parentheses; the fields after it do not.
    const fields = text.slice(text.lastIndexOf(')') + 2).split(' ');
    return { state: fields[0] ?? '', startTime: fields[19] ?? '' };
  } catch {
    return undefined;
  }
}

/** Clock ticks since boot at which the process started (Linux); undefined where /proc is absent. */
export const processStartTime = (pid: number): string | undefined => readProcStat(pid)?.startTime;

export async function processCmdline(pid: number): Promise<string | undefined> {
  try {
    return (await fs.readFile(`/proc/${pid}/cmdline`, 'utf8')).split('\0').join(' ');
  } catch {
    return undefined;
  }
}

/** Pids whose environment holds every one of the given variables (Linux /proc; empty elsewhere). */
export async function findProcessesWithEnv(vars: Readonly<Record<string, string>>): Promise<number[]> {
  const wanted = Object.entries(vars).map(([key, value]) => `${key}=${value}`);
  let entries: string[];
  try {
    entries = await fs.readdir('/proc');
  } catch {
    return [];
  }
  const pids = entries.filter((name) => /^\d+$/.test(name)).map(Number).filter((pid) => pid !== process.pid);
  const matches = await Promise.all(
    pids.map(async (pid) => {
      try {
        const env = (await fs.readFile(`/proc/${pid}/environ`, 'utf8')).split('\0');
        return wanted.every((entry) => env.includes(entry)) && isProcessRunning(pid) ? pid : undefined;
      } catch {
        return undefined;
      }
    }),
  );
  return matches.filter((pid): pid is number => pid !== undefined);
}

/** Sends a signal to the process group led by pid (pods run in their own group), then to pid itself. */
export function signalGroup(pid: number, signal: NodeJS.Signals): void {
  for (const target of [-pid, pid]) {
    try {
      process.kill(target, signal);
    } catch {
      // already gone, or not a group leader
    }
  }
}
