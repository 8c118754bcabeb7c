import { readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@simdeploy/testing';
import { LocalPodRuntime, releaseAndKillAll } from '../../src/local';
import { tempStateDir, uniqueDeploymentId, workloadRequest } from './helpers';

/**
 * Issue 17: a readiness poll used to call createWorkload, which found the pid dead and started
 * the pod again, so a command that exits was restarted about once a second instead of failing.
 */
describe('local runtime: a pod whose command exits', () => {
  let stateDir: string;
  beforeEach(() => {
    stateDir = tempStateDir();
  });
  afterEach(async () => {
    expect(await releaseAndKillAll(stateDir, 1_000)).toBe(true);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('is never started again by createWorkload, and is reported failed with its exit code and what it printed', async () => {
    const exitsAtOnce = ['sh', '-c', 'echo loading world; echo cannot open display >&2; exit 3'];
    const runtime = new LocalPodRuntime({ stateDir, graceMs: 500, simulatorCommand: exitsAtOnce });
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    const [pod] = request.plan.pods.map((p) => p.name);
    const log = join(stateDir, 'workloads', id, 'pods', `${pod}.log`);
    await runtime.createWorkload(request);
    await waitFor(() => readFileSync(log, 'utf8').includes('cannot open display'), { description: 'the command ran' });

    // What a launcher's polls used to do: create, then check, again and again.
    let check = await runtime.checkWorkload(id, request.plan.pods);
    for (let poll = 0; poll < 5 && check.state !== 'failed'; poll++) {
      await runtime.createWorkload(request);
      check = await runtime.checkWorkload(id, request.plan.pods);
    }
    for (let poll = 0; poll < 5; poll++) await runtime.createWorkload(request);

    expect(check).toMatchObject({ state: 'failed', error: { code: 'PodExited', message: `pod ${pod} exited with code 3`, transient: false } });
    expect(check.state === 'failed' && check.logs?.join('\n')).toContain('cannot open display');
    const started = readFileSync(log, 'utf8').split('\n').filter((line) => line.includes('started pid'));
    expect(started).toHaveLength(1);
    expect(readFileSync(log, 'utf8').split('\n').filter((line) => line === 'loading world')).toHaveLength(1);
  });
});
