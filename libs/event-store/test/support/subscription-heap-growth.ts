/**
 * Run by subscription-memory.spec.ts in a child `node --expose-gc` (Jest's own heap is too
 * noisy to measure): feeds a long fake source through a ResumingSubscription and prints, as
 * one JSON line, how much the heap grew between the warm-up and the end of the feed while the
 * subscription was still open.
 *
 *   node --expose-gc -r ./tools/register-ts.cjs libs/event-store/test/support/subscription-heap-growth.ts 200000
 */
import { RecordedEvent } from '../../src/event-store';
import { ResumingSubscription, SourceItem, SubscriptionSource } from '../../src/resuming-subscription';

const total = Number(process.argv[2] ?? 200_000);
const warmUp = Math.min(10_000, Math.floor(total / 10));

const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const heapAfterGc = (): number => {
  // Several passes: a single one can leave garbage that the next pass would collect.
  for (let i = 0; i < 4; i++) gc();
  return process.memoryUsage().heapUsed;
};

/** Every event is a fresh object the source forgets once yielded, as a server subscription's are. */
const source = (): SubscriptionSource => ({
  async *[Symbol.asyncIterator](): AsyncGenerator<SourceItem> {
    for (let n = 1; ; n++) {
      // A yield per event, as the client's stream gives one: each next() waits for it.
      await Promise.resolve();
      const event: RecordedEvent = {
        streamId: `d-${n % 97}`,
        type: 'SimDeploymentLaunched',
        data: { n, note: `event ${n} of a long feed` },
        metadata: { correlationId: `c-${n}` },
        revision: String(n),
        position: String(n * 10),
        recordedAt: new Date(0).toISOString(),
      };
      yield event;
    }
  },
  close: async () => undefined,
});

const main = async (): Promise<void> => {
  const subscription = new ResumingSubscription({ from: 'start', open: source });
  let received = 0;
  let before = 0;
  let after = 0;
  for await (const _event of subscription) {
    received++;
    if (received === warmUp) before = heapAfterGc();
    if (received === total) {
      after = heapAfterGc();
      break;
    }
  }
  process.stdout.write(JSON.stringify({ events: total, measuredOver: total - warmUp, growthBytes: after - before }) + '\n');
};

main().catch((error: unknown) => {
  process.stderr.write(String((error as Error)?.stack ?? error) + '\n');
  process.exit(1);
});
