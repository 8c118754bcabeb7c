import 'reflect-metadata';
import { connect } from '@nats-io/transport-node';
import { CommonConfig } from '@simdeploy/config';
import { openEventStore } from '@simdeploy/event-store';
import { openReadModel, runRebuildCommand } from '@simdeploy/read-model';
import { runService } from '@simdeploy/service-kit';

/**
 * Drops the read model READ_MODEL_URL names and rebuilds it from every event in the store, in
 * one transaction, with a progress bar and events/s: `npm run read-model:rebuild`. Safe while
 * gateways run: they keep answering from the old projection until the new one commits.
 */
runService('read-model-rebuild', CommonConfig, async (config) => {
  const nc = config.EVENT_STORE === 'jetstream' ? await connect({ servers: config.NATS_URL, name: 'read-model-rebuild' }) : null;
  const store = await openEventStore(config, nc);
  const readModel = await openReadModel(config.READ_MODEL_URL);
  try {
    await readModel.migrate();
    await runRebuildCommand(store, readModel);
  } finally {
    await readModel.close();
    await store.close();
    await nc?.close();
  }
});
