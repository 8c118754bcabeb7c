import { jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { uniqueName } from '@simdeploy/testing';
import { createSimulatedProviders, type SimulatedProviderOptions, type SimulatedProviders } from '../../src/simulated';
import { describeNodeProviderContract, describePodRuntimeContract, launchNodesWith } from '../../src/testing/provider-contract';

const DELAY_MS = 60_000;

/**
 * Each fixture's providers share one private bucket; every createSimulatedProviders call has
 * its own mirror of it, as a separate process (the terminator beside the launcher) would.
 */
async function simulated() {
  const nc: NatsConnection = await connect({ servers: process.env['NATS_URL'] });
  const bucket = uniqueName('SIM');
  let now = Date.now();
  const opened: SimulatedProviders[] = [];
  const open = async (options: SimulatedProviderOptions = {}) => {
    const providers = await createSimulatedProviders(nc, {
      bucket,
      bootDelay: { kind: 'fixed', ms: DELAY_MS },
      readyDelay: { kind: 'uniform', minMs: DELAY_MS / 2, maxMs: DELAY_MS },
      clock: () => now,
      ...options,
    });
    opened.push(providers);
    return providers;
  };
  return {
    open,
    progress: () => {
      now += DELAY_MS;
    },
    teardown: async () => {
      opened.forEach((p) => p.close());
      await (await jetstreamManager(nc)).streams.delete(`KV_${bucket}`);
      await nc.close();
    },
  };
}

describeNodeProviderContract('simulated', async () => {
  const sim = await simulated();
  return {
    nodes: (await sim.open()).nodes,
    otherProcess: (await sim.open()).nodes,
    withoutCapacity: (await sim.open({ capacity: 0 })).nodes,
    failingMachines: (await sim.open({ faults: [{ target: 'boot', mode: 'fail', rate: 1 }] })).nodes,
    progress: sim.progress,
    readyWithinMs: 1_000,
    teardown: sim.teardown,
  };
});

describePodRuntimeContract('simulated', async () => {
  const sim = await simulated();
  const main = await sim.open();
  return {
    pods: main.pods,
    otherProcess: (await sim.open()).pods,
    failingPods: (await sim.open({ faults: [{ target: 'pod', mode: 'fail', rate: 1 }] })).pods,
    nodesFor: (deploymentId, spec) => launchNodesWith(main.nodes, deploymentId, spec),
    progress: sim.progress,
    readyWithinMs: 1_000,
    teardown: sim.teardown,
  };
});
