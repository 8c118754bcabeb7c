import { SIMULATED_FAULT_TARGETS as CONFIG_TARGETS, WorkerConfig, loadConfig } from '@simdeploy/config';
import { SIMULATED_FAULT_TARGETS, type DelayDistribution, type SimulatedFault } from '../../src/simulated';

describe('simulated provider settings', () => {
  it('accepts, as they are, the delays and faults the configuration reads', () => {
    const config = loadConfig(WorkerConfig, { SIMULATED_BOOT_MS: 'normal:30000/5000', SIMULATED_FAULTS: 'checkWorkload:slow:0.1:2000' });
    // Type-checked: the configuration's values are the provider's options.
    const boot: DelayDistribution = config.SIMULATED_BOOT_MS;
    const faults: readonly SimulatedFault[] = config.SIMULATED_FAULTS;
    expect(boot).toEqual({ kind: 'normal', meanMs: 30_000, stddevMs: 5_000 });
    expect(faults).toEqual([{ target: 'checkWorkload', mode: 'slow', rate: 0.1, delayMs: 2000 }]);
    expect([...CONFIG_TARGETS]).toEqual([...SIMULATED_FAULT_TARGETS]);
  });
});
