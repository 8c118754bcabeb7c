import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';
import { ANY_REVISION, type EventStore, type NewEvent } from '@simdeploy/event-store';

/**
 * The baseline the read-side benchmarks compare with: every message of a stream through an
 * ordered consumer, nothing decoded.
 */
export async function rawRead(natsUrl: string, stream: string): Promise<{ events: number; ms: number }> {
  const nc = await connect({ servers: natsUrl });
  const jsm = await jetstreamManager(nc);
  const last = (await jsm.streams.info(stream)).state.last_seq;
  const started = Date.now();
  const consumer = await jetstream(nc).consumers.get(stream);
  const messages = await consumer.consume({ max_messages: 1024 });
  let count = 0;
  for await (const m of messages) {
    count++;
    if (m.seq >= last) break;
  }
  const ms = Date.now() - started;
  messages.stop();
  await nc.close();
  return { events: count, ms };
}

/**
 * Writes deployments' events interleaved as a running system writes them: `inFlight`
 * deployments at a time, one event each per round, until `next` has no more.
 */
export async function writeInterleaved<E extends NewEvent>(
  store: EventStore,
  next: () => { id: string; events: E[] } | null,
  inFlight: number,
  afterRound: () => void = () => undefined,
): Promise<void> {
  const flying: { id: string; events: E[] }[] = [];
  for (;;) {
    while (flying.length < inFlight) {
      const d = next();
      if (!d) break;
      flying.push(d);
    }
    if (flying.length === 0) return;
    await Promise.all(flying.map((d) => store.append(d.id, [d.events.shift() as E], ANY_REVISION)));
    for (let i = flying.length - 1; i >= 0; i--) if (flying[i]?.events.length === 0) flying.splice(i, 1);
    afterRound();
  }
}
