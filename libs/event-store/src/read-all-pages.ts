import { comparePositions, type EventStore, type Position, type RecordedEvent } from './event-store';

export interface ReadAllPagesOptions {
  /** Only events after this position. */
  from?: Position;
  /** Events per readAll call. Default 50,000: few calls (on JetStream each costs a consumer), about 100 MB held with the next page in flight. */
  pageSize?: number;
  /** Stop after this position (default: the head of the store when the read begins). */
  upTo?: Position | null;
}

/**
 * Every deployment event of the store in store order, in big pages, up to the head as of the
 * start: a replay of a store that is being written ends. The next page is read while the
 * caller works on the last one. A short page is not the end (JetStream's readAll may stop a
 * page early); only an empty one is. For replays that fold everything (audits, rebuilds);
 * live followers use subscribeToAll.
 */
export async function* readAllPages(store: EventStore, options: ReadAllPagesOptions = {}): AsyncGenerator<RecordedEvent[]> {
  const pageSize = options.pageSize ?? 50_000;
  const head = options.upTo === undefined ? await store.headPosition() : options.upTo;
  if (head === null) return;
  const read = (after: Position | undefined) => store.readAll({ from: after === undefined ? 'start' : { after }, limit: pageSize });
  let pending: Promise<RecordedEvent[]> | null = read(options.from);
  while (pending) {
    const page: RecordedEvent[] = await pending;
    pending = null;
    if (page.length === 0) return;
    const last = page[page.length - 1] as RecordedEvent;
    if (comparePositions(last.position, head) > 0) {
      const within = page.filter((e) => comparePositions(e.position, head) <= 0);
      if (within.length > 0) yield within;
      return;
    }
    pending = read(last.position);
    pending.catch(() => undefined); // surfaced by the await above
    yield page;
  }
}
