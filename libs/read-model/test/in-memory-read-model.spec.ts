import { InMemoryReadModel } from '../src/in-memory-read-model';
import { describeReadModelContract } from './support/read-model-contract';

describeReadModelContract('in-memory', async () => {
  const readModel = new InMemoryReadModel();
  return { readModel, teardown: () => readModel.close() };
});
