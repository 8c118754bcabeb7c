import type { EventStore, Position, RecordedEvent } from '@simdeploy/event-store';
import { ExportChain, EXPORT_FORMAT, type ExportFilters } from './export-chain';
import { selectEvents, type EventFilter } from './scan';

export interface ExportResult {
  count: number;
  firstPosition: Position | null;
  lastPosition: Position | null;
  finalHash: string;
}

/**
 * Exports the events a filter selects, up to the head of the store as of the start. The
 * manifest states the count and first and last positions before the events, so it takes two
 * passes over the same bounded range: one to count, one to write.
 */
export async function exportEvents(
  store: EventStore,
  filter: EventFilter & { sinceText?: string; untilText?: string },
  storeKind: string,
  write: (line: string) => void | Promise<void>,
  now: () => Date = () => new Date(),
): Promise<ExportResult> {
  const head = await store.headPosition();
  let count = 0;
  let first: RecordedEvent | null = null;
  let last: RecordedEvent | null = null;
  for await (const page of selectEvents(store, filter, { upTo: head })) {
    first ??= page[0] ?? null;
    last = page[page.length - 1] ?? last;
    count += page.length;
  }
  const filters: ExportFilters = {
    ...(filter.deployment === undefined ? {} : { deployment: filter.deployment }),
    ...(filter.sinceText === undefined ? {} : { since: filter.sinceText }),
    ...(filter.untilText === undefined ? {} : { until: filter.untilText }),
  };
  const chain = new ExportChain({
    kind: 'manifest',
    format: EXPORT_FORMAT,
    createdAt: now().toISOString(),
    filters,
    store: storeKind,
    firstPosition: first?.position ?? null,
    lastPosition: last?.position ?? null,
    count,
  });
  await write(chain.manifestLine);
  let written = 0;
  let finalHash = '';
  const upTo = last?.position ?? null;
  if (upTo !== null) {
    for await (const page of selectEvents(store, filter, { upTo })) {
      for (const event of page) {
        if (written === count) break;
        await write(chain.eventLine(event));
        written++;
      }
    }
  }
  if (written !== count) throw new Error(`the store returned ${written} events on the second pass, ${count} on the first: it changed under the export`);
  const trailer = chain.trailerLine();
  finalHash = (JSON.parse(trailer) as { finalHash: string }).finalHash;
  await write(trailer);
  return { count, firstPosition: first?.position ?? null, lastPosition: upTo, finalHash };
}
