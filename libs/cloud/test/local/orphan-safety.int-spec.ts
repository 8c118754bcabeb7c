import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@simdeploy/testing';
import { claimOwnership, LocalPodRuntime, releaseAndKillAll } from '../../src/local';
import { deleteUntilGone, isAlive, isSupervisor, only, podProcessesMentioning, processesMentioning, tempStateDir, uniqueDeploymentId, workloadRequest } from './helpers';

/**
 * Pods are detached from the process that started them and bound to the runtime owner instead
 * (runtime-owner.ts): a launcher killed with -9 leaves its pods running for a restarted
 * launcher to find, and the owner going away takes every pod with it.
 */
describe('local runtime orphan safety', () => {
  let stateDir: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    stateDir = tempStateDir();
  });
  afterEach(async () => {
    children.splice(0).forEach((child) => child.kill('SIGKILL'));
    await releaseAndKillAll(stateDir, 1_000);
    rmSync(stateDir, { recursive: true, force: true });
  });

  async function startLauncher(deploymentId: string, claimOwnership: boolean): Promise<ChildProcess> {
    const requestFile = join(stateDir, `${deploymentId}-request.json`);
    writeFileSync(requestFile, JSON.stringify(workloadRequest(deploymentId)));
    const args = [join(__dirname, 'fixtures/start-workload.js'), requestFile, stateDir, ...(claimOwnership ? ['--claim-ownership'] : [])];
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'inherit'] });
    children.push(child);
    let output = '';
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
    await waitFor(() => output.includes('started'), { timeoutMs: 20_000, description: 'the launcher started the workload' });
    return child;
  }

  const killed = (child: ChildProcess) =>
    new Promise<void>((resolve) => {
      child.once('exit', () => resolve());
      child.kill('SIGKILL');
    });

  it('keeps the pods of a launcher killed with -9 for the next launcher, and stops them when the owner releases them', async () => {
    await claimOwnership(stateDir);
    const id = uniqueDeploymentId();
    const request = workloadRequest(id);
    const launcher = await startLauncher(id, false);
    const runtime = new LocalPodRuntime({ stateDir, graceMs: 1_000 });
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const pids = await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`);
    expect(pids).toHaveLength(6);

    await killed(launcher);
    expect((await runtime.checkWorkload(id, request.plan.pods)).state).toBe('ready');
    expect(pids.every(isAlive)).toBe(true);

    expect(await releaseAndKillAll(stateDir, 1_000)).toBe(true);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await processesMentioning(id)).toEqual([]);
  });

  it('stops every pod on its own when the owning process is killed with -9', async () => {
    const id = uniqueDeploymentId();
    const request = workloadRequest(id);
    const owner = await startLauncher(id, true);
    const runtime = new LocalPodRuntime({ stateDir });
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const pids = await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`);
    expect(pids).toHaveLength(6);

    await killed(owner);
    await waitFor(async () => (await processesMentioning(id)).length === 0, { timeoutMs: 10_000, description: 'no pod process left' });
    expect(pids.filter(isAlive)).toEqual([]);
    const check = await runtime.checkWorkload(id, request.plan.pods);
    expect(check).toMatchObject({ state: 'failed', error: { code: 'PodExited' } });
    expect(check.state === 'failed' && check.error.message).toContain('runtime owner is gone');
  });

  it('finds and stops a user command whose supervisor was killed with -9 when the deployment is deleted', async () => {
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    // sleep does not watch its parent, unlike the default simulator program.
    const runtime = new LocalPodRuntime({ stateDir, graceMs: 1_000, simulatorCommand: ['bash', '-c', 'touch "$SIMDEPLOY_READY_FILE"; exec sleep 1000'] });
    await runtime.createWorkload(request);
    await waitFor(async () => (await podProcessesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`)).length === 2);
    process.kill(only((await podProcessesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`)).filter(isSupervisor)), 'SIGKILL');
    const check = await waitFor(async () => {
      const result = await runtime.checkWorkload(id, request.plan.pods);
      return result.state === 'failed' ? result : undefined;
    });
    expect(check.error.message).toContain('gone without an exit status');
    expect(await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`)).toHaveLength(1);

    await deleteUntilGone(runtime, id);
    expect(await processesMentioning(id)).toEqual([]);
  });
});
