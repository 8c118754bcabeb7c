import type { NatsConnection } from '@nats-io/transport-node';
import { FaultGate } from './fault-gate';
import type { DelayDistribution, SimulatedFault } from './sampling';
import { SimulatedNodeProvider } from './simulated-node-provider';
import { SimulatedPodRuntime } from './simulated-pod-runtime';
import { SimulatedState } from './simulated-state';

export { SIMULATED_FAULT_TARGETS, sampleDelay, uniformFor } from './sampling';
export type { DelayDistribution, SimulatedFault, SimulatedFaultMode, SimulatedFaultTarget } from './sampling';
export { SimulatedNodeProvider, simulatedInstanceIdFor, simulatedNodeNameFor } from './simulated-node-provider';
export { SimulatedPodRuntime } from './simulated-pod-runtime';

export const DEFAULT_SIMULATED_BUCKET = 'SIMDEPLOY_SIMULATED';

export interface SimulatedProviderOptions {
  /** The JetStream key-value bucket every process of the installation shares. Default SIMDEPLOY_SIMULATED. */
  bucket?: string;
  /** From launch to running with status checks passed. Default 0. */
  bootDelay?: DelayDistribution;
  /** From createWorkload to every pod ready. Default 0. */
  readyDelay?: DelayDistribution;
  faults?: readonly SimulatedFault[];
  /** Same seed, same delays and fates for the same nodes and pods in every process. Default 1. */
  seed?: number;
  /** Live machines at most. Default: no limit. */
  capacity?: number;
  /** How long a terminated machine stays visible to a launch retried with its token. Default 10 minutes. */
  tombstoneRetentionMs?: number;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
}

export interface SimulatedProviders {
  nodes: SimulatedNodeProvider;
  pods: SimulatedPodRuntime;
  /** Stops the bucket watch and the tombstone sweep; the records stay in the bucket. */
  close(): void;
}

/**
 * The simulated provider, Kubernetes' KWOK for this system: machines and pods are records in a
 * JetStream key-value bucket (nats-server 2.9 is enough), with the delays and faults asked for,
 * and no process or cloud spend per simulation. For load tests of an installation and for the
 * benchmarks; it keeps the idempotency rules of the real providers and the sweep sees it.
 */
export async function createSimulatedProviders(nc: NatsConnection, options: SimulatedProviderOptions = {}): Promise<SimulatedProviders> {
  const state = await SimulatedState.open(nc, options.bucket ?? DEFAULT_SIMULATED_BUCKET);
  const seed = options.seed ?? 1;
  const faults = options.faults ?? [];
  const clock = options.clock ?? Date.now;
  const gate = new FaultGate(faults, seed);
  const nodes = new SimulatedNodeProvider(state, gate, {
    bootDelay: options.bootDelay ?? { kind: 'fixed', ms: 0 },
    faults,
    seed,
    capacity: options.capacity,
    tombstoneRetentionMs: options.tombstoneRetentionMs ?? 10 * 60_000,
    clock,
  });
  const pods = new SimulatedPodRuntime(state, gate, { readyDelay: options.readyDelay ?? { kind: 'fixed', ms: 0 }, faults, seed, clock });
  return {
    nodes,
    pods,
    close: () => {
      nodes.close();
      state.close();
    },
  };
}
