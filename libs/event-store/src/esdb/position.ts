import type { Position as EsdbPosition } from '@eventstore/db-client';
import type { Position } from '../event-store';

/**
 * EventStoreDB orders $all by (commit, prepare). Events of one multi-event append share the
 * commit position and differ only in prepare, and whether prepare alone follows $all order
 * is a server internal (it did not under explicit transactions), so neither half is enough.
 * `commit * 10^20 + prepare` keeps both: both are non-negative int64s, so prepare < 10^20 and
 * the sum is unique, decodes exactly, and its numeric order is the (commit, prepare) order
 * that `comparePositions` needs. Written in decimal it reads as the commit followed by the
 * prepare zero-padded to 20 digits, which keeps it legible in logs.
 */
const PREPARE_SPAN = 10n ** 20n;
const INT64_MAX = 2n ** 63n - 1n;

export const encodePosition = ({ commit, prepare }: EsdbPosition): Position => {
  if (commit < 0n || prepare < 0n || commit > INT64_MAX || prepare > INT64_MAX) {
    throw new RangeError(`not an EventStoreDB log position: commit ${commit}, prepare ${prepare}`);
  }
  return (commit * PREPARE_SPAN + prepare).toString(10);
};

export const decodePosition = (position: Position): EsdbPosition => {
  if (!/^\d+$/.test(position)) throw new RangeError(`not an EventStoreDB position: "${position}"`);
  const value = BigInt(position);
  const decoded = { commit: value / PREPARE_SPAN, prepare: value % PREPARE_SPAN };
  if (decoded.commit > INT64_MAX || decoded.prepare > INT64_MAX) {
    throw new RangeError(`not an EventStoreDB position: "${position}"`);
  }
  return decoded;
};

/**
 * The port position of an event as the client reports it, or undefined when the server gave
 * none. The client turns absent fields into 0/0 (protobuf defaults: servers before 22.6 never
 * send them for stream reads), and no event can sit at 0/0, where the log's first epoch record
 * is. From 22.6 "no position" arrives as 2^64-1, outside any log.
 */
export const knownPosition = (position: EsdbPosition | undefined): Position | undefined => {
  if (!position) return undefined;
  const { commit, prepare } = position;
  if (commit === 0n && prepare === 0n) return undefined;
  if (commit > INT64_MAX || prepare > INT64_MAX) return undefined;
  return encodePosition(position);
};
