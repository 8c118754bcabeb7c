import { SlotPool } from './slot-pool';

describe('SlotPool', () => {
  it('grants at most the free slots, and at most what was asked', async () => {
    const pool = new SlotPool(5);
    expect(await pool.acquire(3)).toBe(3);
    expect(await pool.acquire(10)).toBe(2);
    expect(pool.free).toBe(0);
  });

  it('makes a caller wait until a slot is released', async () => {
    const pool = new SlotPool(1);
    await pool.acquire(1);
    let granted: number | undefined;
    const waiting = pool.acquire(4).then((n) => (granted = n));
    await Promise.resolve();
    expect(granted).toBeUndefined();
    pool.release();
    await waiting;
    expect(granted).toBe(1);
  });

  it('answers waiting callers with 0 once closed', async () => {
    const pool = new SlotPool(1);
    await pool.acquire(1);
    const waiting = pool.acquire(1);
    pool.close();
    expect(await waiting).toBe(0);
  });

  it('refuses a pool without slots', () => {
    expect(() => new SlotPool(0)).toThrow(RangeError);
  });
});
