import { EventStore, comparePositions, readAllPages, type Position, type ReadAllPagesOptions, type RecordedEvent } from '@simdeploy/event-store';

/** Which events an audit command looks at; times compare with the store's own recording time. */
export interface EventFilter {
  deployment?: string;
  /** Only events after this position. */
  from?: Position;
  /** Epoch ms, inclusive. */
  since?: number;
  /** Epoch ms, inclusive. */
  until?: number;
}

export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

/** An ISO-8601 time (a date alone means its midnight UTC); the flag is named when it is not one. */
export function parseTime(value: string, flag: string): number {
  const ms = /^\d{4}-\d{2}-\d{2}([T ][\d:.]+(Z|[+-]\d{2}:?\d{2})?)?$/.test(value) ? Date.parse(value) : NaN;
  if (Number.isNaN(ms)) throw new UsageError(`${flag} must be an ISO-8601 time like 2026-12-01T13:00:00Z, got "${value}"`);
  return ms;
}

export function parsePosition(value: string, flag: string): Position {
  if (!/^\d+$/.test(value)) throw new UsageError(`${flag} must be a store position (a whole number from an earlier listing), got "${value}"`);
  return value;
}

/** Whether a recorded event passes the time and position filters (the deployment filter is applied by reading its stream). */
export function matches(event: RecordedEvent, filter: EventFilter): boolean {
  if (filter.from !== undefined && comparePositions(event.position, filter.from) <= 0) return false;
  if (filter.since === undefined && filter.until === undefined) return true;
  const at = Date.parse(event.recordedAt);
  return (filter.since === undefined || at >= filter.since) && (filter.until === undefined || at <= filter.until);
}

export type ScanOptions = ReadAllPagesOptions;

/** The store's events in big pages up to the head as of the start (the event store's readAllPages). */
export const scanPages = (store: EventStore, options: ScanOptions = {}): AsyncGenerator<RecordedEvent[]> => readAllPages(store, options);

/** The events a filter selects, up to the head as of the start: one stream's when a deployment is named, else the whole store's. */
export async function* selectEvents(store: EventStore, filter: EventFilter, options: Omit<ScanOptions, 'from'> = {}): AsyncGenerator<RecordedEvent[]> {
  if (filter.deployment !== undefined) {
    const { events } = await store.readStream(filter.deployment);
    const selected = events.filter((e) => matches(e, filter));
    if (selected.length > 0) yield selected;
    return;
  }
  for await (const page of scanPages(store, { ...options, from: filter.from })) {
    const selected = filter.since === undefined && filter.until === undefined ? page : page.filter((e) => matches(e, filter));
    if (selected.length > 0) yield selected;
  }
}
