import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@simdeploy/testing';
import { claimOwnership, LocalPodRuntime, releaseAndKillAll } from '../../src/local';
import { deleteUntilGone, isAlive, only, podHostPid, processesMentioning, tempStateDir, uniqueDeploymentId, workloadRequest } from './helpers';

/**
 * Pods run under the state directory's pod host, detached from the service that started them
 * and bound to the runtime owner instead (runtime-owner.ts): a launcher killed with -9 leaves
 * its pods running for a restarted launcher to find, the owner going away takes every pod with
 * it, and so does the host itself going away.
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
    expect(pids).toHaveLength(3);

    await killed(launcher);
    expect((await runtime.checkWorkload(id, request.plan.pods)).state).toBe('ready');
    expect(pids.every(isAlive)).toBe(true);
    // The next launcher asks for the same workload: nothing is started twice.
    await runtime.createWorkload(request);
    expect((await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`)).sort()).toEqual(pids.sort());

    const host = podHostPid(stateDir) as number;
    expect(await releaseAndKillAll(stateDir, 1_000)).toBe(true);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await processesMentioning(id)).toEqual([]);
    await waitFor(() => !isAlive(host), { description: 'the pod host exited' });
  });

  it('stops every pod, and the pod host, on its own when the owning process is killed with -9', async () => {
    const id = uniqueDeploymentId();
    const request = workloadRequest(id);
    const owner = await startLauncher(id, true);
    const runtime = new LocalPodRuntime({ stateDir });
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const pids = await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`);
    expect(pids).toHaveLength(3);
    const host = podHostPid(stateDir) as number;

    await killed(owner);
    await waitFor(async () => (await processesMentioning(id)).length === 0, { timeoutMs: 10_000, description: 'no pod process left' });
    await waitFor(() => !isAlive(host), { description: 'the pod host exited' });
    expect(pids.filter(isAlive)).toEqual([]);
    const check = await runtime.checkWorkload(id, request.plan.pods);
    expect(check).toMatchObject({ state: 'failed', error: { code: 'PodExited' } });
    expect(check.state === 'failed' && check.error.message).toContain('runtime owner is gone');
  });

  it('takes the pods down with a pod host killed with -9; the next host kills what they left in the background and starts nothing again', async () => {
    await claimOwnership(stateDir);
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    // The shell stays the pod's process and its `sleep` is a child of its own: the parent-death
    // signal reaches the shell only, so the sleep outlives the host.
    const runtime = new LocalPodRuntime({ stateDir, graceMs: 1_000, simulatorCommand: ['bash', '-c', 'touch "$SIMDEPLOY_READY_FILE"; sleep 1000; echo done'] });
    await runtime.createWorkload(request);
    // Two processes alone could be the shell and its `touch`: wait for the sleep itself.
    const commandOf = (pid: number) => readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0')[0];
    await waitFor(
      async () => {
        const pids = await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`);
        return pids.length === 2 && pids.some((pid) => commandOf(pid) === 'sleep');
      },
      { description: 'the shell and its sleep' },
    );
    const pod = only(request.plan.pods).name;
    const shell = (JSON.parse(readFileSync(join(stateDir, 'workloads', id, 'pods', `${pod}.json`), 'utf8')) as { pid: number }).pid;

    process.kill(podHostPid(stateDir) as number, 'SIGKILL');
    await waitFor(() => !isAlive(shell), { description: 'the pod died with its host' });
    const check = await runtime.checkWorkload(id, request.plan.pods);
    expect(check).toMatchObject({ state: 'failed', error: { code: 'PodExited' } });
    expect(check.state === 'failed' && check.error.message).toContain('gone without an exit status');
    expect(await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`)).toHaveLength(1);

    // A redelivered launch does not bring the pod back; the new host it starts kills the stray.
    await runtime.createWorkload(request);
    await waitFor(async () => (await processesMentioning(id)).length === 0, { description: 'the stray sleep killed' });
    expect(await runtime.checkWorkload(id, request.plan.pods)).toMatchObject({
      state: 'failed',
      error: { message: `pod ${pod} is gone without an exit status (its pod host was gone)` },
    });
    expect(readFileSync(join(stateDir, 'workloads', id, 'pods', `${pod}.log`), 'utf8').match(/started pid/g)).toHaveLength(1);
    await deleteUntilGone(runtime, id);
    expect(await processesMentioning(id)).toEqual([]);
  });
});
