import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { waitFor } from '@simdeploy/testing';
import WebSocket from 'ws';
import { claimOwnership, LocalPodRuntime, releaseAndKillAll, SIMULATOR_GONE_CLOSE_CODE, type LocalPodRuntimeOptions } from '../../src/local';
import { deleteUntilGone, isAlive, only, podHostPid, processesMentioning, tempStateDir, uniqueDeploymentId, workloadRequest } from './helpers';

const SIMULATOR = ['/bin/sh', join(__dirname, '../../../../tools/simulator/simulator.sh')];

describe('LocalPodRuntime', () => {
  let stateDir: string;
  const runtimeWith = (options: Omit<LocalPodRuntimeOptions, 'stateDir'> = {}) => new LocalPodRuntime({ stateDir, graceMs: 2_000, ...options });
  const podFile = (deploymentId: string, pod: string, suffix: string) => join(stateDir, 'workloads', deploymentId, 'pods', `${pod}.${suffix}`);
  const podPids = (deploymentId: string, pods: readonly string[]): number[] =>
    pods.map((pod) => (JSON.parse(readFileSync(podFile(deploymentId, pod, 'json'), 'utf8')) as { pid: number }).pid);
  const withoutRobots = (id: string) => workloadRequest(id, { ...workloadRequest(id).spec, robots: [] });
  const untilFailed = (runtime: LocalPodRuntime, id: string, pods: Parameters<LocalPodRuntime['checkWorkload']>[1]) =>
    waitFor(async () => {
      const result = await runtime.checkWorkload(id, pods);
      return result.state === 'failed' ? result : undefined;
    });

  beforeEach(() => {
    stateDir = tempStateDir();
  });
  afterEach(async () => {
    expect(await releaseAndKillAll(stateDir, 1_000)).toBe(true);
    rmSync(stateDir, { recursive: true, force: true });
  });

  it('runs every planned pod as one process of its own and reports ready once each has written its ready file', async () => {
    const runtime = runtimeWith();
    const id = uniqueDeploymentId();
    const request = workloadRequest(id);
    expect(request.plan.pods.map((p) => p.role)).toEqual(['simulator', 'robot', 'bridge']);
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready', { description: 'workload ready' });

    const names = request.plan.pods.map((p) => p.name);
    const pids = podPids(id, names);
    expect(pids.every(isAlive)).toBe(true);
    // The command itself and nothing else: no supervisor, no watcher, no timer per pod.
    expect((await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`)).sort()).toEqual([...pids].sort());
    const log = readFileSync(podFile(id, names[1] as string, 'log'), 'utf8');
    expect(log).toContain(`[robot ${names[1]}] starting: world=empty.sdf image=robot:1`);
    expect(await runtime.readLogs(id, names[1] as string, 1)).toEqual([`[robot ${names[1]}] ready`]);
    expect(await runtime.listManagedWorkloads()).toEqual([{ deploymentId: id, pods: expect.arrayContaining(names) }]);
    expect(await runtime.checkNodesJoined(id, ['local-x'])).toEqual({ state: 'ready' });
    expect(await runtime.deleteNodes(id, ['local-x'])).toEqual({ gone: true });
  });

  it('leaves running pods alone when asked to create the workload again, from this or another service', async () => {
    const runtime = runtimeWith();
    const id = uniqueDeploymentId();
    const request = withoutRobots(id);
    await runtime.createWorkload(request);
    const names = request.plan.pods.map((p) => p.name);
    const before = podPids(id, names);
    await Promise.all([runtime.createWorkload(request), runtimeWith().createWorkload(request)]);
    expect(podPids(id, names)).toEqual(before);
    expect(await processesMentioning(`SIMDEPLOY_POD_NAME=${names[0]}`)).toEqual(before);
    const log = readFileSync(podFile(id, names[0] as string, 'log'), 'utf8');
    expect(log.split('\n').filter((line) => line.includes('started pid'))).toHaveLength(1);
  });

  it('reports a pod that exited as failed, with its exit code and last log lines', async () => {
    const runtime = runtimeWith({ robotCommand: [...SIMULATOR, '--role', 'robot', '--fail-after-ms', '100', '--exit-code', '3'] });
    const id = uniqueDeploymentId();
    const request = workloadRequest(id);
    await runtime.createWorkload(request);
    const check = await untilFailed(runtime, id, request.plan.pods);
    expect(check.error).toEqual({ code: 'PodExited', message: `pod sim-${id}-robot-0 exited with code 3`, transient: false });
    expect(check.logs?.length).toBeLessThanOrEqual(20);
    expect(check.logs?.join('\n')).toContain('failing on purpose with exit code 3');
    expect(check.logs?.at(-1)).toContain('command exited (code 3, signal null)');
  });

  it('answers a batch of deployments in one check, each as its single check would', async () => {
    const runtime = runtimeWith({ robotCommand: [...SIMULATOR, '--role', 'robot', '--fail-after-ms', '0', '--exit-code', '4'] });
    const [ready, failing, unknown] = [withoutRobots(uniqueDeploymentId()), workloadRequest(uniqueDeploymentId()), withoutRobots(uniqueDeploymentId())];
    await Promise.all([runtime.createWorkload(ready), runtime.createWorkload(failing)]);
    await waitFor(async () => (await runtime.checkWorkload(ready.deploymentId, ready.plan.pods)).state === 'ready');
    await untilFailed(runtime, failing.deploymentId, failing.plan.pods);

    const requests = [ready, failing, unknown].map((r) => ({ deploymentId: r.deploymentId, pods: r.plan.pods }));
    const batch = await runtime.checkWorkloadBatch(requests);
    for (const r of requests) expect(batch.get(r.deploymentId)).toEqual(await runtime.checkWorkload(r.deploymentId, r.pods));
    expect(batch.get(ready.deploymentId)).toEqual({ state: 'ready' });
    expect(batch.get(failing.deploymentId)).toMatchObject({ state: 'failed', error: { message: `pod sim-${failing.deploymentId}-robot-0 exited with code 4` } });
    expect(batch.get(unknown.deploymentId)).toEqual({ state: 'pending', detail: expect.stringContaining('not started') });
  });

  it('stops every process of the deployment on delete and answers gone, again and again', async () => {
    const runtime = runtimeWith();
    const id = uniqueDeploymentId();
    const request = workloadRequest(id);
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const pids = podPids(id, request.plan.pods.map((p) => p.name));
    expect(await processesMentioning(`SIMDEPLOY_DEPLOYMENT_ID=${id}`)).toHaveLength(3);

    await deleteUntilGone(runtime, id);
    expect(pids.filter(isAlive)).toEqual([]);
    expect(await processesMentioning(id)).toEqual([]);
    expect(await runtime.listManagedWorkloads()).toEqual([]);
    expect(await runtime.deleteWorkload(id)).toEqual({ gone: true });
    expect(await runtime.deleteWorkload(uniqueDeploymentId())).toEqual({ gone: true });
  });

  it('SIGKILLs a pod that ignores SIGTERM once the grace period is over, without being asked again', async () => {
    const stubborn = [process.execPath, '-e', "require('fs').writeFileSync(process.env.SIMDEPLOY_READY_FILE, ''); process.on('SIGTERM', () => console.log('ignoring SIGTERM')); setInterval(() => {}, 1000)"];
    const runtime = runtimeWith({ simulatorCommand: stubborn, graceMs: 300 });
    const id = uniqueDeploymentId();
    const request = withoutRobots(id);
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const program = only(await processesMentioning(`SIMDEPLOY_POD_NAME=${only(request.plan.pods).name}`));

    const logFile = podFile(id, only(request.plan.pods).name, 'log');
    // The first call does not wait out the grace period: it signals and answers at once.
    expect(await runtime.deleteWorkload(id)).toMatchObject({ gone: false });
    await waitFor(() => readFileSync(logFile, 'utf8').includes('ignoring SIGTERM'), { description: 'SIGTERM sent first' });
    expect(isAlive(program)).toBe(true);
    await waitFor(() => !isAlive(program), { description: 'SIGKILL after the grace period' });
    expect(await runtime.deleteWorkload(id)).toEqual({ gone: true });
  });

  it('runs a user-set command, which gets the simulator port to listen on', async () => {
    const listens = [
      process.execPath,
      '-e',
      "const http = require('http'); http.createServer((q, r) => r.end('simulator here')).listen(Number(process.env.SIMDEPLOY_SIMULATOR_PORT), '127.0.0.1', () => { console.log('world is ' + process.env.SIMDEPLOY_WORLD); require('fs').writeFileSync(process.env.SIMDEPLOY_READY_FILE, ''); })",
    ];
    const runtime = runtimeWith({ simulatorCommand: listens });
    const id = uniqueDeploymentId();
    const request = withoutRobots(id);
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    expect(readFileSync(podFile(id, only(request.plan.pods).name, 'log'), 'utf8')).toContain('world is empty.sdf');
    const endpoint = await runtime.simulatorEndpoint(id);
    expect(endpoint?.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(await (await fetch(endpoint?.url ?? '')).text()).toBe('simulator here');
    await deleteUntilGone(runtime, id);
    expect(await processesMentioning(id)).toEqual([]);
    expect(await runtime.simulatorEndpoint(id)).toBeNull();
  });

  it('bridges a WebSocket on the bundled simulator port to the simulator, and closes it when the simulator dies', async () => {
    const runtime = runtimeWith();
    const id = uniqueDeploymentId();
    const request = withoutRobots(id);
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');
    const endpoint = await runtime.simulatorEndpoint(id);
    expect(endpoint).not.toBeNull();
    expect(await (await fetch(endpoint?.url ?? '')).json()).toMatchObject({ pod: only(request.plan.pods).name });

    const socket = new WebSocket((endpoint?.url ?? '').replace(/^http/, 'ws'));
    const messages: string[] = [];
    socket.on('message', (data) => messages.push(data.toString()));
    const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
    await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
    socket.send('hello simulator');
    await waitFor(() => messages.includes('echo: hello simulator'), { description: 'the simulator answered' });

    process.kill(only(podPids(id, [only(request.plan.pods).name])), 'SIGKILL');
    expect(await closed).toBe(SIMULATOR_GONE_CLOSE_CODE);
    const check = await untilFailed(runtime, id, request.plan.pods);
    expect(check.error.message).toBe(`pod ${only(request.plan.pods).name} killed by signal SIGKILL`);
    expect(await runtime.simulatorEndpoint(id)).toBeNull();
  });

  it('reports a command that cannot start as a failed pod', async () => {
    const runtime = runtimeWith({ simulatorCommand: ['/nonexistent/gz', 'sim'] });
    const id = uniqueDeploymentId();
    const request = withoutRobots(id);
    await runtime.createWorkload(request);
    const check = await untilFailed(runtime, id, request.plan.pods);
    expect(check.error).toMatchObject({ code: 'PodExited', message: expect.stringContaining('exited with code 127 (spawn failed: not found)') });
    expect(check.logs?.join('\n')).toContain('could not start /nonexistent/gz: not found');
  });

  it('fails a pod that stays unready past the readiness timeout', async () => {
    const runtime = runtimeWith({ simulatorCommand: [...SIMULATOR, '--ready-after-ms', '60000'], readinessTimeoutMs: 200 });
    const id = uniqueDeploymentId();
    const request = withoutRobots(id);
    await runtime.createWorkload(request);
    // Starting is routine progress: a detail, no reason to show the user.
    expect(await runtime.checkWorkload(id, request.plan.pods)).toEqual({ state: 'pending', detail: expect.stringContaining('not ready') });
    const check = await untilFailed(runtime, id, request.plan.pods);
    expect(check.error.code).toBe('PodNotReady');
  });

  it('stops the pods on shutdown only in the process that owns the runtime', async () => {
    const id = uniqueDeploymentId();
    const request = withoutRobots(id);
    const runtime = runtimeWith();
    await runtime.createWorkload(request);
    await waitFor(async () => (await runtime.checkWorkload(id, request.plan.pods)).state === 'ready');

    // Hand ownership to another live process (init): this one is now just a service that started pods.
    writeFileSync(join(stateDir, 'owner.pid'), JSON.stringify({ pid: 1 }));
    await runtime.shutdown();
    expect((await runtime.checkWorkload(id, request.plan.pods)).state).toBe('ready');

    await claimOwnership(stateDir);
    const host = podHostPid(stateDir) as number;
    await runtime.shutdown();
    expect(await processesMentioning(id)).toEqual([]);
    await waitFor(() => !isAlive(host), { description: 'the pod host exited' });
  });
});
