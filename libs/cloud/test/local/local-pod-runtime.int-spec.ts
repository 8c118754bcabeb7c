import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@simdeploy/testing';
import { claimOwnership, LocalPodRuntime, releaseAndKillAll, type LocalPodRuntimeOptions } from '../../src/local';
import { deleteUntilGone, isAlive, isSupervisor, only, podProcessesMentioning, processesMentioning, tempStateDir, uniqueDeploymentId, workloadRequest } from './helpers';

const SIMULATOR = ['/bin/sh', join(__dirname, '../../../../tools/simulator/simulator.sh')];

describe('LocalPodRuntime', () => {
  let stateDir: string;
  const runtimeWith = (options: Omit<LocalPodRuntimeOptions, 'stateDir'> = {}) => new LocalPodRuntime({ stateDir, graceMs: 2_000, ...options });
  const podPids = (deploymentId: string, pods: readonly string[]): number[] =>
    pods.map((pod) => (JSON.parse(readFileSync(join(stateDir, 'workloads', deploymentId, 'pods', `${pod}.json`), 'utf8')) as { pid: number }).pid);

  beforeEach(() => {
    stateDir = tempStateDir();
  });
  afterEach(async () => {
    expect(await releaseAndKillAll(stateDir, 1_000)).toBe(true);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('starts a process for every planned pod and reports ready once each has written its ready file', async () => {
    const runtime = runtimeWith();
    const id = uniqueDeploymentId();
    const request = workloadRequest(id);
    expect(request.plan.pods.map((p) => p.role)).toEqual(['simulator', 'robot', 'bridge']);
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready', { description: 'workload ready' });

    const names = request.plan.pods.map((p) => p.name);
    const pids = podPids(id, names);
    expect(pids.every(isAlive)).toBe(true);
    const log = readFileSync(join(stateDir, 'workloads', id, 'pods', `${names[1]}.log`), 'utf8');
    expect(log).toContain(`[robot ${names[1]}] starting: world=empty.sdf image=robot:1`);
    expect(await runtime.listManagedWorkloads()).toEqual([{ deploymentId: id, pods: expect.arrayContaining(names) }]);
    expect(await runtime.checkNodesJoined(id, ['local-x'])).toEqual({ state: 'ready' });
    expect(await runtime.deleteNodes(id, ['local-x'])).toEqual({ gone: true });
  });

  it('leaves running pods alone when asked to create the workload again', async () => {
    const runtime = runtimeWith();
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    await runtime.createWorkload(request);
    const names = request.plan.pods.map((p) => p.name);
    const before = podPids(id, names);
    await runtime.createWorkload(request);
    await runtimeWith().createWorkload(request);
    expect(podPids(id, names)).toEqual(before);
    // The supervisor and the program it runs, and no more.
    await waitFor(async () => (await podProcessesMentioning(`SIMDEPLOY_POD_NAME=${names[0]}`)).length === 2);
    expect(await podProcessesMentioning(`SIMDEPLOY_POD_NAME=${names[0]}`)).toHaveLength(2);
  });

  it('reports a pod that exited as failed, with its exit code and last log lines', async () => {
    const runtime = runtimeWith({ robotCommand: [...SIMULATOR, '--role', 'robot', '--fail-after-ms', '100', '--exit-code', '3'] });
    const id = uniqueDeploymentId();
    const request = workloadRequest(id);
    await runtime.createWorkload(request);
    const check = await waitFor(async () => {
      const result = await runtime.checkWorkload(id, request.plan.pods);
      return result.state === 'failed' ? result : undefined;
    });
    expect(check.error).toEqual({ code: 'PodExited', message: `pod sim-${id}-robot-0 exited with code 3`, transient: false });
    expect(check.logs?.length).toBeLessThanOrEqual(20);
    expect(check.logs?.join('\n')).toContain('failing on purpose with exit code 3');
  });

  it('stops every process of the deployment on delete and answers gone, again and again', async () => {
    const runtime = runtimeWith();
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, workloadRequest(id).spec);
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const pids = podPids(id, request.plan.pods.map((p) => p.name));
    expect((await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`)).length).toBeGreaterThanOrEqual(6);

    await deleteUntilGone(runtime, id);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await processesMentioning(id)).toEqual([]);
    expect(await runtime.listManagedWorkloads()).toEqual([]);
    expect(await runtime.deleteWorkload(id)).toEqual({ gone: true });
  });

  it('SIGKILLs a pod that ignores SIGTERM once the grace period is over', async () => {
    const stubborn = [process.execPath, '-e', "require('fs').writeFileSync(process.env.SIMDEPLOY_READY_FILE, ''); process.on('SIGTERM', () => console.log('ignoring SIGTERM')); setInterval(() => {}, 1000)"];
    const runtime = runtimeWith({ simulatorCommand: stubborn, graceMs: 300 });
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const program = only((await processesMentioning(`SIMDEPLOY_POD_NAME=${only(request.plan.pods).name}`)).filter((pid) => !isSupervisor(pid)));

    const logFile = join(stateDir, 'workloads', id, 'pods', `${only(request.plan.pods).name}.log`);
    // The first call does not wait out the grace period: it signals and answers at once.
    expect(await runtime.deleteWorkload(id)).toEqual({ gone: false });
    await waitFor(() => readFileSync(logFile, 'utf8').includes('ignoring SIGTERM'), { description: 'SIGTERM sent first' });
    expect(isAlive(program)).toBe(true);
    await waitFor(async () => (await runtime.deleteWorkload(id)).gone, { description: 'SIGKILL after the grace period' });
    expect(isAlive(program)).toBe(false);
  });

  it('runs a user-set command', async () => {
    const runtime = runtimeWith({ simulatorCommand: ['bash', '-c', 'echo "world is $SIMDEPLOY_WORLD"; touch "$SIMDEPLOY_READY_FILE"; exec sleep 1000'] });
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const log = readFileSync(join(stateDir, 'workloads', id, 'pods', `${only(request.plan.pods).name}.log`), 'utf8');
    expect(log).toContain('world is empty.sdf');
    await deleteUntilGone(runtime, id);
    expect(await processesMentioning(id)).toEqual([]);
  });

  it('reports a command that cannot start as a failed pod', async () => {
    const runtime = runtimeWith({ simulatorCommand: ['/nonexistent/gz', 'sim'] });
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    await runtime.createWorkload(request);
    const check = await waitFor(async () => {
      const result = await runtime.checkWorkload(id, request.plan.pods);
      return result.state === 'failed' ? result : undefined;
    });
    expect(check.error.code).toBe('PodExited');
    expect(check.logs?.join('\n')).toContain('could not start /nonexistent/gz');
  });

  it('fails a pod that stays unready past the readiness timeout', async () => {
    const runtime = runtimeWith({ simulatorCommand: [...SIMULATOR, '--ready-after-ms', '60000'], readinessTimeoutMs: 200 });
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    await runtime.createWorkload(request);
    expect((await runtime.checkWorkload(id, request.plan.pods)).state).toBe('pending');
    const check = await waitFor(async () => {
      const result = await runtime.checkWorkload(id, request.plan.pods);
      return result.state === 'failed' ? result : undefined;
    });
    expect(check.error.code).toBe('PodNotReady');
  });

  it('stops the pods on shutdown only in the process that owns the runtime', async () => {
    const id = uniqueDeploymentId();
    const request = workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
    const runtime = runtimeWith();
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');

    // Hand ownership to another live process (init): this one is now just a service that started pods.
    writeFileSync(join(stateDir, 'owner.pid'), JSON.stringify({ pid: 1 }));
    await runtime.shutdown();
    expect((await runtime.checkWorkload(id, request.plan.pods)).state).toBe('ready');

    await claimOwnership(stateDir);
    await runtime.shutdown();
    expect(await processesMentioning(id)).toEqual([]);
  });
});
