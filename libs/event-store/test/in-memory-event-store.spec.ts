import { InMemoryEventStore } from '../src/in-memory';
import { describeEventStoreContract, newDeploymentId } from '../src/testing/event-store-contract';

describeEventStoreContract('in-memory', async () => {
  const store = new InMemoryEventStore();
  return { store, newStreamId: newDeploymentId, teardown: () => store.close() };
});
