import { getEventListeners } from 'node:events';
import { ABORTED, raceAbort, sleep } from './abortable';

describe('raceAbort', () => {
  it("gives the promise's value and leaves no listener on the signal", async () => {
    const closing = new AbortController();
    await expect(raceAbort(Promise.resolve(7), closing.signal)).resolves.toBe(7);
    await expect(raceAbort(Promise.reject(new Error('dropped')), closing.signal)).rejects.toThrow('dropped');
    expect(getEventListeners(closing.signal, 'abort')).toHaveLength(0);
  });

  it('answers ABORTED when the signal aborts first, and ignores a later rejection', async () => {
    const closing = new AbortController();
    let rejectLater!: (error: Error) => void;
    const pending = new Promise<number>((_resolve, reject) => (rejectLater = reject));
    const raced = raceAbort(pending, closing.signal);
    closing.abort();
    await expect(raced).resolves.toBe(ABORTED);
    rejectLater(new Error('the source closed under the read'));
    await expect(raceAbort(Promise.reject(new Error('late')), closing.signal)).resolves.toBe(ABORTED);
  });
});

describe('sleep', () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('answers true once the time has passed', async () => {
    const slept = sleep(1_000, new AbortController().signal);
    await jest.advanceTimersByTimeAsync(1_000);
    await expect(slept).resolves.toBe(true);
  });

  it('answers false at once when aborted, and clears its timer', async () => {
    const closing = new AbortController();
    const slept = sleep(3_600_000, closing.signal);
    closing.abort();
    await expect(slept).resolves.toBe(false);
    expect(jest.getTimerCount()).toBe(0);
    expect(getEventListeners(closing.signal, 'abort')).toHaveLength(0);
  });
});
