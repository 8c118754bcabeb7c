import { randomBytes } from 'node:crypto';

let counter = 0;

/**
 * A name no other test run will use: prefix, process id, a counter and random
 * hex. Only characters valid in NATS stream and consumer names are used.
 */
export function uniqueName(prefix = 'test'): string {
  counter += 1;
  return `${prefix}_${process.pid}_${counter}_${randomBytes(4).toString('hex')}`;
}
