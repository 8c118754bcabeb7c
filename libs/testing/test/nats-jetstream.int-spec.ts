import { connect, type NatsConnection } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { uniqueName } from '../src';

// Proves the NATS client packages (some of which declare Node >= 22) work on
// this Node against the server the Jest global setup started.
describe('NATS JetStream through @nats-io/transport-node and @nats-io/jetstream', () => {
  let nc: NatsConnection;

  beforeAll(async () => {
    const url = process.env['NATS_URL'];
    if (!url) throw new Error('NATS_URL is not set: the Jest global setup should have set it');
    nc = await connect({ servers: url });
  });

  afterAll(async () => {
    await nc?.close();
  });

  it('stores a message in a new stream and reads it back by sequence', async () => {
    const jsm = await jetstreamManager(nc);
    const stream = uniqueName('probe');
    const subject = `${stream}.hello`;
    await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
    try {
      const ack = await jetstream(nc).publish(subject, JSON.stringify({ hello: 'world' }));
      expect(ack.stream).toBe(stream);

      const stored = await jsm.streams.getMessage(stream, { seq: ack.seq });

      expect(stored?.subject).toBe(subject);
      expect(stored?.json()).toEqual({ hello: 'world' });
    } finally {
      await jsm.streams.delete(stream);
    }
  });
});
