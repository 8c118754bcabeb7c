/**
 * Run by subscription-memory.spec.ts in a child node: makes a JetStream subscription re-create
 * its consumer thousands of times (its stream is gone, so each attempt fails at once) and
 * prints, as one JSON line, how many more promises are alive after them than before. A leak
 * of a few hundred bytes per attempt is lost in heap noise; a count of live objects is exact.
 *
 *   NATS_URL=nats://127.0.0.1:4222 node -r ./tools/register-ts.cjs libs/event-store/test/support/jetstream-resubscribe-promises.ts 1000
 */
import { Session } from 'node:inspector';
import { jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { uniqueName } from '@simdeploy/testing';
import { JetStreamEventStore } from '../../src/jetstream';

const attempts = Number(process.argv[2] ?? 1_000);
const warmUp = 200;

const session = new Session();
session.connect();
const post = <T>(method: string, params: object = {}): Promise<T> =>
  new Promise((resolve, reject) => session.post(method, params, (error, result) => (error ? reject(error) : resolve(result as T))));

/** Live promises after a full collection (queryObjects collects first). */
const livePromises = async (): Promise<number> => {
  const { result: prototype } = await post<{ result: { objectId: string } }>('Runtime.evaluate', { expression: 'Promise.prototype' });
  const { objects } = await post<{ objects: { objectId: string } }>('Runtime.queryObjects', { prototypeObjectId: prototype.objectId });
  const { result } = await post<{ result: { value: number } }>('Runtime.callFunctionOn', {
    objectId: objects.objectId,
    functionDeclaration: 'function () { return this.length; }',
    returnByValue: true,
  });
  await post('Runtime.releaseObject', { objectId: objects.objectId });
  await post('Runtime.releaseObject', { objectId: prototype.objectId });
  return result.value;
};

const main = async (): Promise<void> => {
  const url = process.env['NATS_URL'];
  if (!url) throw new Error('NATS_URL is not set');
  const nc = await connect({ servers: url });
  const streamName = uniqueName('LEAK');
  const store = await JetStreamEventStore.create(nc, { streamName, resubscribeDelayMs: 0 });
  await (await jetstreamManager(nc)).streams.delete(streamName);

  let opened = 0;
  let reached: (() => void) | undefined;
  let target = 0;
  const internals = store as unknown as { consume: (...args: unknown[]) => Promise<unknown> };
  const consume = internals.consume.bind(store);
  internals.consume = (...args) => {
    opened++;
    if (opened === target) reached?.();
    return consume(...args);
  };
  const attemptsReached = (count: number) =>
    new Promise<void>((resolve) => {
      target = count;
      reached = resolve;
    });

  const subscription = store.subscribeToAll({ from: 'start' });
  const iterator = subscription[Symbol.asyncIterator]();
  const ended = iterator.next().catch(() => undefined);

  await attemptsReached(warmUp);
  const before = await livePromises();
  await attemptsReached(warmUp + attempts);
  const after = await livePromises();

  await subscription.close();
  await ended;
  await store.close();
  await nc.close();
  session.disconnect();
  process.stdout.write(JSON.stringify({ attempts, promiseGrowth: after - before }) + '\n');
};

main().catch((error: unknown) => {
  process.stderr.write(String((error as Error)?.stack ?? error) + '\n');
  process.exit(1);
});
