import { existsSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';
import { jetstream, jetstreamManager } from '@nats-io/jetstream';
import { portAcceptsConnections, startNatsServer, uniqueName } from '../src';

describe('startNatsServer', () => {
  it('keeps JetStream data across kill -9 and restart on the same port', async () => {
    const server = await startNatsServer();
    try {
      const stream = uniqueName('durable');
      let nc = await connect({ servers: server.url });
      const jsm = await jetstreamManager(nc);
      await jsm.streams.add({ name: stream, subjects: [`${stream}.>`] });
      const ack = await jetstream(nc).publish(`${stream}.a`, 'kept');
      await nc.close();

      await server.kill9();
      expect(await portAcceptsConnections(server.port)).toBe(false);
      await server.restart();

      nc = await connect({ servers: server.url });
      const stored = await (await jetstreamManager(nc)).streams.getMessage(stream, { seq: ack.seq });
      expect(stored?.string()).toBe('kept');
      await nc.close();
    } finally {
      await server.stop();
    }
    expect(existsSync(server.storeDir)).toBe(false);
  });
});
