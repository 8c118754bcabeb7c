import { connect, type NatsConnection } from '@nats-io/transport-node';
import { startNatsServer, waitFor, type NatsServerHandle } from '@simdeploy/testing';
import { CommandTestBed, launchCommand } from './support';

describe('JetStreamCommandServer across a nats-server crash', () => {
  let server: NatsServerHandle;
  let nc: NatsConnection;
  let bed: CommandTestBed;

  beforeEach(async () => {
    server = await startNatsServer();
    nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    bed = await CommandTestBed.create({}, nc);
  });

  afterEach(async () => {
    await bed.dispose();
    await nc.close();
    await server.stop();
  });

  it('resumes consuming after kill -9 and restart, and handles commands sent afterwards', async () => {
    const handled = new Set<string>();
    await bed.startReplica((msg) => {
      handled.add(msg.deploymentId);
    });
    await bed.bus.send(launchCommand('before-crash'));
    await waitFor(() => handled.has('before-crash'), { description: 'command before the crash handled' });

    await server.kill9();
    await server.restart();
    const afterCrash = launchCommand('after-crash');
    // The same messageId on every attempt: a retry whose ack was lost is stored once.
    await waitFor(
      async () => {
        await bed.bus.send(afterCrash);
        return true;
      },
      { timeoutMs: 20_000, description: 'publishing after the restart' },
    );

    await waitFor(() => handled.has('after-crash'), { timeoutMs: 20_000, description: 'command after the restart handled' });
    await waitFor(async () => (await bed.storedCommands()) === 0, { description: 'work queue empty after the restart' });
  });
});
