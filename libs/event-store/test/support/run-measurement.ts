import { execFile } from 'node:child_process';
import path from 'node:path';
import { promisify } from 'node:util';

const run = promisify(execFile);
const root = path.resolve(__dirname, '../../../..');

/**
 * Runs a script of this folder in a plain `node --expose-gc` (Jest's own heap is too busy to
 * measure) and returns the JSON of its last output line.
 */
export const runMeasurement = async <T>(script: string, args: string[] = []): Promise<T> => {
  const { stdout } = await run(
    process.execPath,
    ['--expose-gc', '-r', path.join(root, 'tools/register-ts.cjs'), path.join(__dirname, script), ...args],
    { cwd: root, env: process.env, timeout: 170_000 },
  );
  return JSON.parse(stdout.trim().split('\n').pop() ?? '') as T;
};
