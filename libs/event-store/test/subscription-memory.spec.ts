import { runMeasurement } from './support/run-measurement';

describe('a long-lived subscription', () => {
  it('keeps no delivered event in memory: 200,000 events grow the heap by less than 8 MB', async () => {
    const result = await runMeasurement<{ measuredOver: number; growthBytes: number }>('subscription-heap-growth.ts', ['200000']);
    // Before the fix each event stayed reachable until close(): about 700 bytes apiece, 130 MB here.
    expect(result.measuredOver).toBe(190_000);
    expect(result.growthBytes).toBeLessThan(8 * 1024 * 1024);
  }, 180_000);
});

describe('a JetStream subscription that keeps re-creating its consumer', () => {
  it('keeps nothing alive per attempt: 1,000 failed attempts leave fewer than 100 more live promises', async () => {
    const result = await runMeasurement<{ attempts: number; promiseGrowth: number }>('jetstream-resubscribe-promises.ts', ['1000']);
    // Before the fix each wait raced a promise pending until close(), leaving two promises behind.
    expect(result.attempts).toBe(1_000);
    expect(result.promiseGrowth).toBeLessThan(100);
  }, 180_000);
});
