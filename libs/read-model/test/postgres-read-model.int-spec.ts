import { openReadModel } from '../src/sql/open';
import { createTestDatabase, postgresUnavailableSync } from './support/postgres-test-database';
import { describeReadModelContract } from './support/read-model-contract';

const skipReason = postgresUnavailableSync() ?? undefined;
if (skipReason) process.stderr.write(`PostgreSQL read model contract skipped: ${skipReason}\n`);

describeReadModelContract(
  'PostgreSQL',
  async () => {
    const database = await createTestDatabase();
    const readModel = await openReadModel(database.url);
    return {
      readModel,
      async teardown() {
        await readModel.close();
        await database.drop();
      },
    };
  },
  skipReason ? { skipReason } : {},
);
