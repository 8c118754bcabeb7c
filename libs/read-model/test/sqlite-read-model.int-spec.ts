import { promises as fs } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openReadModel } from '../src/sql/open';
import { describeReadModelContract } from './support/read-model-contract';

describeReadModelContract('SQLite', async () => {
  const dir = await fs.mkdtemp(join(tmpdir(), 'simdeploy-rm-'));
  const readModel = await openReadModel(`sqlite:${join(dir, 'read-model.sqlite')}`);
  return {
    readModel,
    async teardown() {
      await readModel.close();
      await fs.rm(dir, { recursive: true, force: true });
    },
  };
});
