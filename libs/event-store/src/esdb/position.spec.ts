import { comparePositions } from '../event-store';
import { decodePosition, encodePosition, knownPosition } from './position';

const INT64_MAX = 2n ** 63n - 1n;

describe('EventStoreDB positions as port positions', () => {
  it('decode back to the commit and prepare they were made from, at the edges of int64 too', () => {
    const samples = [
      { commit: 0n, prepare: 0n },
      { commit: 0n, prepare: 1n },
      { commit: 1n, prepare: 0n },
      { commit: 123_456n, prepare: 123_456n },
      { commit: 123_456n, prepare: 123_789n },
      { commit: INT64_MAX, prepare: INT64_MAX },
    ];
    for (const position of samples) expect(decodePosition(encodePosition(position))).toEqual(position);
  });

  it('are plain decimal integers, so BigInt reads them', () => {
    const encoded = encodePosition({ commit: 42n, prepare: 7n });
    expect(encoded).toMatch(/^[1-9]\d*$/);
    expect(BigInt(encoded)).toBe(42n * 10n ** 20n + 7n);
  });

  it('give the events of one multi-event append distinct positions in append order', () => {
    const batch = [1_000n, 1_180n, 1_360n].map((prepare) => encodePosition({ commit: 1_000n, prepare }));
    expect(new Set(batch).size).toBe(3);
    expect([...batch].reverse().sort(comparePositions)).toEqual(batch);
  });

  it('order as $all does: by commit, then by prepare', () => {
    const positions = [
      { commit: 5n, prepare: 9n },
      { commit: 3n, prepare: 100n },
      { commit: 5n, prepare: 5n },
      { commit: INT64_MAX, prepare: 0n },
      { commit: 0n, prepare: INT64_MAX },
      { commit: 3n, prepare: 3n },
    ];
    const byTuple = [...positions].sort((a, b) =>
      a.commit !== b.commit ? (a.commit < b.commit ? -1 : 1) : a.prepare < b.prepare ? -1 : a.prepare > b.prepare ? 1 : 0,
    );
    const byPort = positions.map(encodePosition).sort(comparePositions).map(decodePosition);
    expect(byPort).toEqual(byTuple);
  });

  it('refuse what no EventStoreDB log position can be', () => {
    expect(() => encodePosition({ commit: -1n, prepare: 0n })).toThrow(RangeError);
    expect(() => encodePosition({ commit: 0n, prepare: INT64_MAX + 1n })).toThrow(RangeError);
    expect(() => decodePosition('12abc')).toThrow(RangeError);
    expect(() => decodePosition('-5')).toThrow(RangeError);
    expect(() => decodePosition(((INT64_MAX + 1n) * 10n ** 20n).toString())).toThrow(RangeError);
  });
});

describe('knownPosition', () => {
  it('is the port position of a real log position', () => {
    expect(knownPosition({ commit: 1_000n, prepare: 1_200n })).toBe(encodePosition({ commit: 1_000n, prepare: 1_200n }));
  });

  it.each([
    ['no position at all', undefined],
    ['the protobuf defaults 0/0 (fields the server did not send)', { commit: 0n, prepare: 0n }],
    ['2^64-1, how 22.6 and later say "none"', { commit: 2n ** 64n - 1n, prepare: 2n ** 64n - 1n }],
  ])('is undefined for %s', (_what, position) => {
    expect(knownPosition(position)).toBeUndefined();
  });
});
