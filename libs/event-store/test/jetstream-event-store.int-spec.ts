import { connect } from '@nats-io/transport-node';
import { startNatsServer, uniqueName } from '@simdeploy/testing';
import { JetStreamEventStore } from '../src/jetstream';
import { describeEventStoreContract, newDeploymentId } from '../src/testing/event-store-contract';

// A private server, not the one Jest shares: the durability case kills it with -9.
describeEventStoreContract('JetStream', async () => {
  const server = await startNatsServer();
  const nc = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
  const streamName = uniqueName('EVENTS');
  const store = await JetStreamEventStore.create(nc, { streamName });
  return {
    store,
    newStreamId: newDeploymentId,
    restartServer: async () => {
      await server.kill9();
      await server.restart();
    },
    teardown: async () => {
      await store.close();
      await nc.close();
      await server.stop();
    },
  };
}, { canRestartServer: true });
