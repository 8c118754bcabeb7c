import { isSimDeploymentEvent, type SimDeploymentEvent } from './events';

/**
 * The schema version every event is written with now, carried in the event's metadata as
 * `schemaVersion` (metadata, so the data keeps the domain's shape and a reader that does not
 * care never sees it). Events recorded without one are version 1: every stream written before
 * versions existed.
 *
 * Version 1 is the shape as it grew without versions: a failure record (LaunchFailed,
 * TerminationFailed, AdminReviewRequired) written before steps were retried may lack `attempt`.
 * Version 2 is today's shape: every failure says how many times its step was tried.
 */
export const CURRENT_SCHEMA_VERSION = 2;
export const SCHEMA_VERSION_KEY = 'schemaVersion';

/** What a reader has of a recorded event; the event store's RecordedEvent is one. */
export interface VersionedRecord {
  type: string;
  data: unknown;
  metadata?: Readonly<Record<string, unknown>>;
}

export type UpcastResult =
  | { ok: true; event: SimDeploymentEvent; version: number }
  | { ok: false; problem: 'unknown-type' | 'unknown-version' | 'malformed'; version: number | null };

/** The metadata to write beside an event so that readers know its shape. */
export const schemaVersionMetadata = (): { schemaVersion: number } => ({ schemaVersion: CURRENT_SCHEMA_VERSION });

/** The version an event was recorded in: 1 without one, null when the field holds something else. */
export function schemaVersionOf(record: VersionedRecord): number | null {
  const version = record.metadata?.[SCHEMA_VERSION_KEY];
  if (version === undefined) return 1;
  return typeof version === 'number' && Number.isInteger(version) && version >= 1 ? version : null;
}

const FAILURE_TYPES = new Set(['LaunchFailed', 'TerminationFailed', 'AdminReviewRequired']);

/** Version 1 -> 2: a failure without `attempt` was tried once. */
function fromV1(type: string, data: object): object {
  if (FAILURE_TYPES.has(type) && (data as { attempt?: unknown }).attempt === undefined) return { ...data, attempt: 1 };
  return data;
}

/**
 * The one place an event's recorded shape becomes the current one. Everything that folds
 * recorded events (command handler, projection, live stream, audits) goes through here, so a
 * change of an event's fields adds a step here and never breaks replay of old streams.
 */
export function upcastEvent(record: VersionedRecord): UpcastResult {
  const version = schemaVersionOf(record);
  if (version === null || version > CURRENT_SCHEMA_VERSION) return { ok: false, problem: 'unknown-version', version };
  if (typeof record.data !== 'object' || record.data === null) return { ok: false, problem: 'malformed', version };
  const data = version === 1 ? fromV1(record.type, record.data) : record.data;
  const event = { type: record.type, data };
  if (!isSimDeploymentEvent(event)) return { ok: false, problem: 'unknown-type', version };
  return { ok: true, event, version };
}

/** The current shape of a recorded deployment event, or null when it is none (another kind, or a version this code does not know). */
export function upcast(record: VersionedRecord): SimDeploymentEvent | null {
  const result = upcastEvent(record);
  return result.ok ? result.event : null;
}
