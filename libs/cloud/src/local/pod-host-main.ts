/**
 * The pod host process (see pod-host.ts), started detached by LocalPodRuntime:
 *   node pod-host-main.js --state-dir <dir> [--owner-poll-ms 250] [--grace-ms 5000]
 * Exits at once, with status 0, when another host already serves the state directory.
 */
import { parseArgs } from 'node:util';
import { PodHost } from './pod-host';

const { values } = parseArgs({
  options: {
    'state-dir': { type: 'string' },
    'owner-poll-ms': { type: 'string', default: '250' },
    'grace-ms': { type: 'string', default: '5000' },
  },
});

const number = (name: 'owner-poll-ms' | 'grace-ms'): number => {
  const value = Number(values[name]);
  if (!Number.isInteger(value) || value <= 0) {
    process.stderr.write(`pod host: --${name} must be a positive whole number of milliseconds (got "${values[name]}")\n`);
    process.exit(2);
  }
  return value;
};

const stateDir = values['state-dir'];
if (!stateDir) {
  process.stderr.write('usage: pod-host-main --state-dir <dir> [--owner-poll-ms N] [--grace-ms N]\n');
  process.exit(2);
}

const host = new PodHost({ stateDir, ownerPollMs: number('owner-poll-ms'), graceMs: number('grace-ms') });
process.on('SIGHUP', () => undefined);
for (const signal of ['SIGTERM', 'SIGINT'] as const) process.once(signal, () => void host.stopAndExit(`the pod host got ${signal}`));
host.start().then(
  (serving) => {
    if (!serving) process.exit(0);
  },
  (error: unknown) => {
    process.stderr.write(`pod host: could not start: ${error instanceof Error ? error.stack : String(error)}\n`);
    process.exit(1);
  },
);
