import { EventStore, Position, readAllPages } from '@simdeploy/event-store';
import { Presets, SingleBar } from 'cli-progress';
import { applyBatch, withStateCache } from './projection';
import type { ReadModel } from './read-model';

export interface RebuildProgress {
  events: number;
  /** Position of the last event folded in. */
  position: Position | null;
  /** The head of the store when the rebuild began. */
  head: Position | null;
  elapsedMs: number;
}

export interface RebuildResult {
  events: number;
  elapsedMs: number;
  eventsPerSecond: number;
  checkpoint: Position | null;
}

export interface RebuildOptions {
  batchSize?: number;
  onProgress?: (progress: RebuildProgress) => void;
}

/**
 * Drops the projection and folds every event of the store into it again, up to the head as of
 * the start (what arrives meanwhile is the live projector's, from the rebuilt checkpoint on). It all happens in one
 * transaction: readers keep the old projection until the new one is complete, a crash
 * leaves the old one, and a live projector that committed meanwhile finds the checkpoint
 * moved and resumes from the rebuilt one.
 */
export async function rebuildReadModel(store: EventStore, readModel: ReadModel, options: RebuildOptions = {}): Promise<RebuildResult> {
  // Fewer, bigger batches write each deployment row fewer times (a batch folds all its events first).
  const batchSize = options.batchSize ?? 10_000;
  const started = Date.now();
  const head = await store.headPosition();
  let events = 0;
  const checkpoint = await readModel.transaction(async (outer) => {
    const tx = withStateCache(outer);
    await tx.reset();
    let position: Position | null = null;
    if (head === null) return position;
    // Big pages up to the head rather than the live feed: a replay of everything is bound by
    // decoding and folding, not by waiting, and events appended meanwhile are the live projector's.
    for await (const page of readAllPages(store, { upTo: head })) {
      for (let i = 0; i < page.length; i += batchSize) {
        const batch = page.length <= batchSize ? page : page.slice(i, i + batchSize);
        position = (await applyBatch(tx, batch, position)).checkpoint;
        events += batch.length;
        options.onProgress?.({ events, position, head, elapsedMs: Date.now() - started });
      }
    }
    return position;
  });
  const elapsedMs = Date.now() - started;
  return { events, elapsedMs, eventsPerSecond: elapsedMs > 0 ? Math.round((events * 1000) / elapsedMs) : events, checkpoint };
}

/** How far `position` is towards `head`, in thousandths (positions grow with the log, whatever the store). */
export const permilleOf = (position: Position | null, head: Position | null): number =>
  position === null || head === null || BigInt(head) === 0n ? 0 : Math.min(1000, Number((BigInt(position) * 1000n) / BigInt(head)));

/**
 * The rebuild as an operator runs it: a progress bar with events/s on a terminal, one summary
 * line in any case. Shared by the gateway's `rebuild` entry point and the audit CLI.
 */
export async function runRebuildCommand(
  store: EventStore,
  readModel: ReadModel,
  output: NodeJS.WriteStream = process.stderr,
  options: Pick<RebuildOptions, 'batchSize'> = {},
): Promise<RebuildResult> {
  const bar = new SingleBar(
    {
      stream: output,
      format: 'rebuilding the read model |{bar}| {percentage}% | {events} events | {rate} events/s | ETA {eta_formatted}',
      hideCursor: true,
      etaBuffer: 50,
    },
    Presets.shades_classic,
  );
  bar.start(1000, 0, { events: 0, rate: 0 });
  try {
    const result = await rebuildReadModel(store, readModel, {
      ...options,
      onProgress: (p) =>
        bar.update(permilleOf(p.position, p.head), {
          events: p.events.toLocaleString('en'),
          rate: p.elapsedMs > 0 ? Math.round((p.events * 1000) / p.elapsedMs).toLocaleString('en') : 0,
        }),
    });
    bar.update(1000);
    bar.stop();
    output.write(
      `rebuilt the read model from ${result.events.toLocaleString('en')} events in ${(result.elapsedMs / 1000).toFixed(1)} s: ${result.eventsPerSecond.toLocaleString('en')} events/s\n`,
    );
    return result;
  } catch (error) {
    bar.stop();
    throw error;
  }
}
