import { InMemoryEventStore, NO_STREAM, type ReadAllOptions, type RecordedEvent } from '@simdeploy/event-store';
import { parseTime, scanPages, selectEvents, UsageError } from './scan';

/** A store whose readAll, like JetStream's, may hand back fewer events than asked for before the end. */
class ShortPages extends InMemoryEventStore {
  override async readAll(options: ReadAllOptions): Promise<RecordedEvent[]> {
    const page = await super.readAll(options);
    return page.slice(0, Math.max(1, Math.floor(page.length / 2)));
  }
}

async function filled(store: InMemoryEventStore, streams: number, events: number): Promise<void> {
  for (let s = 0; s < streams; s++) await store.append(`d${s}`, Array.from({ length: events }, (_, n) => ({ type: 'Tick', data: { n } })), NO_STREAM);
}

describe('scanPages', () => {
  it('reads every event up to the head even when pages come back short', async () => {
    const store = new ShortPages();
    await filled(store, 7, 13);
    let count = 0;
    for await (const page of scanPages(store, { pageSize: 10 })) count += page.length;
    expect(count).toBe(91);
  });

  it('stops at the head as of its start, and selects by deployment and time', async () => {
    const store = new InMemoryEventStore();
    await filled(store, 3, 4);
    const pages = scanPages(store, { pageSize: 5 });
    const first = await pages.next();
    await store.append('late', [{ type: 'Tick', data: {} }], NO_STREAM);
    let count = (first.value as RecordedEvent[]).length;
    for await (const page of pages) count += page.length;
    expect(count).toBe(12);
    const one: RecordedEvent[] = [];
    for await (const page of selectEvents(store, { deployment: 'd1' })) one.push(...page);
    expect(one.map((e) => e.streamId)).toEqual(['d1', 'd1', 'd1', 'd1']);
    const none: RecordedEvent[] = [];
    for await (const page of selectEvents(store, { since: Date.parse('2999-01-01') })) none.push(...page);
    expect(none).toEqual([]);
  });
});

describe('parseTime', () => {
  it('takes ISO-8601 times and dates, and names the flag otherwise', () => {
    expect(parseTime('2026-12-01T13:00:00Z', '--since')).toBe(Date.UTC(2026, 11, 1, 13));
    expect(parseTime('2026-12-01', '--until')).toBe(Date.UTC(2026, 11, 1));
    expect(() => parseTime('yesterday', '--until')).toThrow(new UsageError('--until must be an ISO-8601 time like 2026-12-01T13:00:00Z, got "yesterday"'));
    expect(() => parseTime('2026-13-45', '--since')).toThrow(UsageError);
  });
});
