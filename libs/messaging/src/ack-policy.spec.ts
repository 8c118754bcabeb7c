import { decideAck, failureBackoffMs, InvalidCommandOutcomeError } from './ack-policy';

describe('decideAck', () => {
  it.each([[undefined], [null], [{ done: true }]])('acks a handler that resolved with %p', (outcome) => {
    expect(decideAck(outcome)).toEqual({ action: 'ack' });
  });

  it('naks with the delay a handler asked for', () => {
    expect(decideAck({ retryAfterMs: 1500 })).toEqual({ action: 'nak', delayMs: 1500 });
    expect(decideAck({ retryAfterMs: 0 })).toEqual({ action: 'nak', delayMs: 0 });
  });

  it.each([[{ retryAfterMs: -1 }], [{ retryAfterMs: Number.NaN }], [{ retryAfterMs: '10' }], [{ done: false }], [42], ['ok']])(
    'rejects the outcome %p instead of silently acking it',
    (outcome) => {
      expect(() => decideAck(outcome)).toThrow(InvalidCommandOutcomeError);
    },
  );
});

describe('failureBackoffMs', () => {
  it('doubles from the base with each delivery', () => {
    expect([1, 2, 3, 4].map((n) => failureBackoffMs(n))).toEqual([200, 400, 800, 1600]);
  });

  it('stops growing at the cap, even for absurd delivery counts', () => {
    expect(failureBackoffMs(9)).toBe(30_000);
    expect(failureBackoffMs(10_000)).toBe(30_000);
    expect(failureBackoffMs(5, { baseMs: 10, maxMs: 100 })).toBe(100);
  });
});
