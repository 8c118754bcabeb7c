import { SIMULATED_FAULT_TARGETS, type DelaySetting, type FaultSetting } from '@simdeploy/config';
import { createHash } from 'node:crypto';

/** How long something simulated takes: always the same, or drawn from a distribution (as SIMULATED_*_MS read it). */
export type DelayDistribution = DelaySetting;

/** The port calls a fault can hit, and the two simulated resources: a node's boot, a pod's start. */
export type SimulatedFaultTarget = FaultSetting['target'];
export { SIMULATED_FAULT_TARGETS };

/**
 * On a call: `fail` throws a permanent ProviderError, `throttle` a transient one, `hang` never
 * answers (until the call is aborted), `slow` answers after delayMs.
 * On `boot` or `pod`: `fail` makes the node fail its status checks (the pod exit with code 1)
 * once it would have been ready, `hang` keeps it pending for ever, `slow` adds delayMs to its
 * delay; `throttle` means nothing there.
 */
export type SimulatedFaultMode = FaultSetting['mode'];

/** One fault as SIMULATED_FAULTS reads it: a target, a mode, a probability per call (or per node, per pod), delayMs for `slow`. */
export type SimulatedFault = FaultSetting;

/**
 * A number in [0, 1) that depends only on the seed and the key: every process draws the same
 * for the same node or pod, so the launcher and the terminator agree on what a resource does.
 */
export function uniformFor(seed: number, key: string): number {
  const digest = createHash('sha256').update(`${seed}:${key}`).digest();
  // 48 bits are plenty of resolution for a probability and stay exact in a double.
  return digest.readUIntBE(0, 6) / 2 ** 48;
}

export function sampleDelay(distribution: DelayDistribution, seed: number, key: string): number {
  switch (distribution.kind) {
    case 'fixed':
      return distribution.ms;
    case 'uniform':
      return Math.round(distribution.minMs + uniformFor(seed, key) * (distribution.maxMs - distribution.minMs));
    case 'normal': {
      // Box-Muller; a delay is never negative.
      const u1 = Math.max(uniformFor(seed, `${key}:1`), Number.EPSILON);
      const u2 = uniformFor(seed, `${key}:2`);
      const standard = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
      return Math.max(0, Math.round(distribution.meanMs + standard * distribution.stddevMs));
    }
    default: {
      const unknown: never = distribution;
      throw new Error(`unknown delay distribution ${JSON.stringify(unknown)}`);
    }
  }
}

/** The first fault of the target whose dice say so, or undefined. */
export function rollFault(faults: readonly SimulatedFault[], target: SimulatedFaultTarget, seed: number, key: string): SimulatedFault | undefined {
  return faults.find((fault, i) => fault.target === target && uniformFor(seed, `${key}:fault${i}`) < fault.rate);
}
