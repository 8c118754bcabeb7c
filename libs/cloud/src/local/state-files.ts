import { randomBytes } from 'node:crypto';
import { promises as fs, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Where the local runtime keeps its state unless told otherwise; shared by every local process. */
export const DEFAULT_LOCAL_STATE_DIR = join(tmpdir(), 'simdeploy-local');

const isCode = (error: unknown, code: string): boolean =>
  typeof error === 'object' && error !== null && (error as NodeJS.ErrnoException).code === code;

const tempPathFor = (file: string): string => `${file}.${process.pid}.${randomBytes(4).toString('hex')}.tmp`;

/** Replaces the file in one step, so a reader in another process sees the old or the new text, never half. */
export async function writeFileAtomic(file: string, data: string): Promise<void> {
  const temp = tempPathFor(file);
  await fs.writeFile(temp, data);
  await fs.rename(temp, file);
}

/** writeFileAtomic for the pod host, which records a pod before its event loop runs again. */
export function writeFileAtomicSync(file: string, data: string): void {
  const temp = tempPathFor(file);
  writeFileSync(temp, data);
  renameSync(temp, file);
}

/**
 * Creates the file with its full content, or answers false if it already exists. `link` fails
 * with EEXIST atomically, so concurrent processes never both win and nobody reads a partial file.
 */
export async function createFileExclusive(file: string, data: string, mode?: number): Promise<boolean> {
  const temp = tempPathFor(file);
  await fs.writeFile(temp, data, mode === undefined ? undefined : { mode });
  try {
    await fs.link(temp, file);
    return true;
  } catch (error) {
    if (isCode(error, 'EEXIST')) return false;
    throw error;
  } finally {
    await fs.rm(temp, { force: true });
  }
}

export async function readJson<T>(file: string): Promise<T | undefined> {
  try {
    return JSON.parse(await fs.readFile(file, 'utf8')) as T;
  } catch (error) {
    if (isCode(error, 'ENOENT')) return undefined;
    throw error;
  }
}

export async function pathExists(file: string): Promise<boolean> {
  try {
    await fs.access(file);
    return true;
  } catch {
    return false;
  }
}

/** Entry names of a directory, without temp files of writes in progress; a missing directory is empty. */
export async function listEntries(dir: string, suffix = ''): Promise<string[]> {
  try {
    const names = await fs.readdir(dir);
    return names.filter((name) => !name.endsWith('.tmp') && name.endsWith(suffix)).map((name) => name.slice(0, name.length - suffix.length));
  } catch (error) {
    if (isCode(error, 'ENOENT')) return [];
    throw error;
  }
}

/** The last lines of a log file, reading only its tail so a long simulation's log costs nothing. */
export async function tailLines(file: string, count: number, maxBytes = 64 * 1024): Promise<string[]> {
  let handle: fs.FileHandle | undefined;
  try {
    handle = await fs.open(file, 'r');
    const { size } = await handle.stat();
    const length = Math.min(size, maxBytes);
    const buffer = Buffer.alloc(length);
    await handle.read(buffer, 0, length, size - length);
    const lines = buffer.toString('utf8').split('\n');
    if (lines.at(-1) === '') lines.pop();
    return lines.slice(-count);
  } catch (error) {
    if (isCode(error, 'ENOENT')) return [];
    throw error;
  } finally {
    await handle?.close();
  }
}
