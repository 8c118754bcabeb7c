import { ProviderError } from '../ports';
import { rollFault, type SimulatedFault, type SimulatedFaultTarget } from './sampling';

/**
 * The per-call faults of the simulated provider. The dice are keyed by the operation and a
 * count of its calls in this process, so a run with the same seed and the same calls fails
 * the same calls; the count is per operation, not per deployment, so it costs no memory per
 * deployment.
 */
export class FaultGate {
  private readonly calls = new Map<SimulatedFaultTarget, number>();

  constructor(
    private readonly faults: readonly SimulatedFault[],
    private readonly seed: number,
  ) {}

  async before(target: SimulatedFaultTarget, signal?: AbortSignal): Promise<void> {
    signal?.throwIfAborted();
    if (!this.faults.some((f) => f.target === target)) return;
    const n = (this.calls.get(target) ?? 0) + 1;
    this.calls.set(target, n);
    const fault = rollFault(this.faults, target, this.seed, `call:${target}:${n}`);
    if (!fault) return;
    switch (fault.mode) {
      case 'fail':
        throw new ProviderError('SimulatedFault', `simulated permanent failure of ${target}`, false);
      case 'throttle':
        throw new ProviderError('RequestLimitExceeded', `simulated throttling of ${target}`, true);
      case 'hang':
        return wait(undefined, signal);
      case 'slow':
        return wait(fault.delayMs ?? 0, signal);
    }
  }
}

/** Resolves after ms (never, when undefined); rejects when the signal aborts. */
function wait(ms: number | undefined, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = ms === undefined ? undefined : setTimeout(done, ms);
    function done() {
      signal?.removeEventListener('abort', aborted);
      resolve();
    }
    function aborted() {
      clearTimeout(timer);
      reject(new ProviderError('Aborted', 'the call was aborted', true));
    }
    if (signal?.aborted) return aborted();
    signal?.addEventListener('abort', aborted, { once: true });
  });
}
