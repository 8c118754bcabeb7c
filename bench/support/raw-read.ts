import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect } from '@nats-io/transport-node';

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
