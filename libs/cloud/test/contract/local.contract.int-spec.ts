import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { planNodes } from '@simdeploy/domain';
import { claimOwnership, LocalNodeProvider, LocalPodRuntime, releaseAndKillAll } from '../../src/local';
import { describeNodeProviderContract, describePodRuntimeContract } from '../../src/testing/provider-contract';
import { tempStateDir } from '../local/helpers';

const SIMULATOR = ['/bin/sh', join(__dirname, '../../../../tools/simulator/simulator.sh')];
const BOOT_MS = 60_000;

describeNodeProviderContract('local', async () => {
  const stateDir = tempStateDir();
  let now = Date.now();
  const clock = () => now;
  return {
    nodes: new LocalNodeProvider({ stateDir, bootDelayMs: BOOT_MS, clock }),
    otherProcess: new LocalNodeProvider({ stateDir, bootDelayMs: BOOT_MS, clock }),
    withoutCapacity: new LocalNodeProvider({ stateDir, slots: 0 }),
    progress: () => {
      now += BOOT_MS;
    },
    readyWithinMs: 1_000,
    teardown: async () => rmSync(stateDir, { recursive: true, force: true }),
  };
});

describePodRuntimeContract('local', async () => {
  const stateDir = tempStateDir();
  await claimOwnership(stateDir);
  // Ready a moment after start, so that a check right after createWorkload sees them pending.
  const slowToStart = { simulatorCommand: [...SIMULATOR, '--ready-after-ms', '300'], robotCommand: [...SIMULATOR, '--role', 'robot', '--ready-after-ms', '300'] };
  const runtime = (options = {}) => new LocalPodRuntime({ stateDir, graceMs: 1_000, ...slowToStart, ...options });
  return {
    pods: runtime(),
    otherProcess: runtime(),
    failingPods: runtime({ simulatorCommand: ['sh', '-c', 'echo loading world; echo cannot open display >&2; exit 3'] }),
    nodesFor: async (deploymentId, spec) => planNodes(deploymentId, spec).map((plan) => ({ ...plan, nodeName: `local-${deploymentId}-${plan.role}-0` })),
    progress: () => undefined,
    readyWithinMs: 10_000,
    teardown: async () => {
      expect(await releaseAndKillAll(stateDir, 1_000)).toBe(true);
      rmSync(stateDir, { recursive: true, force: true });
    },
  };
});
