import { ConfigError, loadConfig } from './load-config';
import { WorkerConfig, simulatedEnabled } from './service-config';

const problemsOf = (env: Record<string, string>): string[] => {
  try {
    loadConfig(WorkerConfig, env);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  return [];
};

describe('WorkerConfig simulated provider settings', () => {
  it('defaults to no delay, no fault, seed 1, the shared bucket, and offers simulated only when asked', () => {
    const config = loadConfig(WorkerConfig, {});
    expect(config).toMatchObject({
      SIMULATED_BUCKET: 'SIMDEPLOY_SIMULATED',
      SIMULATED_BOOT_MS: { kind: 'fixed', ms: 0 },
      SIMULATED_READY_MS: { kind: 'fixed', ms: 0 },
      SIMULATED_FAULTS: [],
      SIMULATED_SEED: 1,
      ENABLE_SIMULATED: false,
    });
    expect(config.SIMULATED_CAPACITY).toBeUndefined();
    expect(simulatedEnabled(config)).toBe(false);
    expect(simulatedEnabled(loadConfig(WorkerConfig, { PROVIDER: 'simulated' }))).toBe(true);
    expect(simulatedEnabled(loadConfig(WorkerConfig, { ENABLE_SIMULATED: 'true' }))).toBe(true);
  });

  it('reads fixed, uniform and normal delays', () => {
    expect(loadConfig(WorkerConfig, { SIMULATED_BOOT_MS: '30000' }).SIMULATED_BOOT_MS).toEqual({ kind: 'fixed', ms: 30_000 });
    expect(loadConfig(WorkerConfig, { SIMULATED_BOOT_MS: 'uniform:20000-40000' }).SIMULATED_BOOT_MS).toEqual({ kind: 'uniform', minMs: 20_000, maxMs: 40_000 });
    expect(loadConfig(WorkerConfig, { SIMULATED_READY_MS: 'normal:30000/5000' }).SIMULATED_READY_MS).toEqual({ kind: 'normal', meanMs: 30_000, stddevMs: 5_000 });
  });

  it('reads a list of faults', () => {
    const config = loadConfig(WorkerConfig, { SIMULATED_FAULTS: 'launchNode:throttle:0.05, checkWorkload:slow:0.1:2000,boot:hang:0.01,pod:fail:1' });
    expect(config.SIMULATED_FAULTS).toEqual([
      { target: 'launchNode', mode: 'throttle', rate: 0.05 },
      { target: 'checkWorkload', mode: 'slow', rate: 0.1, delayMs: 2000 },
      { target: 'boot', mode: 'hang', rate: 0.01 },
      { target: 'pod', mode: 'fail', rate: 1 },
    ]);
  });

  it.each([
    [{ PROVIDER: 'kwok' }, 'PROVIDER: must be "local" (embedded default), "aws" or "simulated"'],
    [{ SIMULATED_BOOT_MS: 'uniform:40000-20000' }, 'SIMULATED_BOOT_MS: must be milliseconds (30000), uniform:<min>-<max> or normal:<mean>/<stddev>: the minimum 40000 is above the maximum 20000'],
    [{ SIMULATED_READY_MS: '30s' }, 'SIMULATED_READY_MS: must be milliseconds (30000), uniform:<min>-<max> or normal:<mean>/<stddev>: cannot read "30s"'],
    [{ SIMULATED_FAULTS: 'launchNode:explode:0.1' }, '"launchNode:explode:0.1": unknown mode "explode"'],
    [{ SIMULATED_FAULTS: 'launchnode:fail:0.1' }, '"launchnode:fail:0.1": unknown target "launchnode"'],
    [{ SIMULATED_FAULTS: 'pod:fail:2' }, '"pod:fail:2": the rate "2" is not between 0 and 1'],
    [{ SIMULATED_FAULTS: 'checkNodes:slow:0.5' }, '"checkNodes:slow:0.5": slow needs a delay in whole milliseconds'],
    [{ SIMULATED_FAULTS: 'boot:throttle:0.5' }, '"boot:throttle:0.5": a machine boot or a pod start cannot be throttled'],
    [{ SIMULATED_BUCKET: 'bad.name' }, 'SIMULATED_BUCKET: must be a JetStream bucket name'],
    [{ SIMULATED_CAPACITY: '-1' }, 'SIMULATED_CAPACITY:'],
  ])('refuses %j naming the variable and what it expected', (env, expected) => {
    const problems = problemsOf(env);
    expect(problems).toHaveLength(1);
    expect(problems[0]).toContain(expected);
    expect(problems[0]?.split(':')[0]).toBe(Object.keys(env)[0]);
  });
});
