import { spawn, type ChildProcess } from 'node:child_process';
import { accessSync, appendFileSync, closeSync, constants, openSync, promises as fs, rmSync, statSync, write } from 'node:fs';
import { connect, createServer, type Server, type Socket } from 'node:net';
import { delimiter, join } from 'node:path';
import type { Readable, Writable } from 'node:stream';
import { deploymentDir, killStrays, podFiles, podsDir, strayPodProcesses, workloadsDir, type PodExit, type PodFiles, type PodRecord } from './pod-processes';
import {
  hostInfoFile,
  hostSocketPath,
  lineReader,
  stateDirToken,
  type Envelope,
  type HostAnswers,
  type HostInfo,
  type HostRequest,
  type PodLaunch,
  type PodStatus,
  type Reply,
  type RequestOf,
} from './pod-host-protocol';
import { processStartTime, signalGroup } from './process-identity';
import { isOwnerAlive } from './runtime-owner';
import { allocatePort, StdioWebSocketBridge } from './simulator-socket';
import { createFileExclusive, listEntries, pathExists, readJson, writeFileAtomicSync } from './state-files';

export interface PodHostOptions {
  stateDir: string;
  /** How often the host checks that the runtime owner still runs. */
  ownerPollMs: number;
  /** Between SIGTERM and SIGKILL when the owner is gone. */
  graceMs: number;
  /** The host's own lines (start, adoption, owner gone); pod lines go to the pods' logs. */
  log?: (line: string) => void;
}

interface HostedPod {
  name: string;
  files: PodFiles;
  /** Null until the command is spawned, and for a command that could not be. */
  pid: number | null;
  startedAt: string;
  ready: boolean;
  exit?: PodExit;
  stopReason?: string;
  bridge?: StdioWebSocketBridge;
}

interface Stopping {
  since: number;
  killTimer?: NodeJS.Timeout;
  /** Resolves when every pod of the deployment has exited. */
  done: Promise<void>;
  resolve: () => void;
}

interface HostedDeployment {
  id: string;
  pods: Map<string, HostedPod>;
  stopping?: Stopping;
}

const now = (): string => new Date().toISOString();
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms).unref());
const errorMessage = (error: unknown): string => (error instanceof Error ? error.message : String(error));

/** Why a command cannot be started, the way a shell would say it; undefined when it can. */
function commandProblem(command: string, path: string | undefined): string | undefined {
  const executable = (file: string): boolean => {
    try {
      accessSync(file, constants.X_OK);
      return statSync(file).isFile();
    } catch {
      return false;
    }
  };
  const exists = (file: string): boolean => {
    try {
      statSync(file);
      return true;
    } catch {
      return false;
    }
  };
  if (command.includes('/')) return executable(command) ? undefined : exists(command) ? 'permission denied' : 'not found';
  const candidates = (path ?? '').split(delimiter).filter(Boolean).map((dir) => join(dir, command));
  if (candidates.some(executable)) return undefined;
  return candidates.some(exists) ? 'permission denied' : 'not found';
}

const findOnPath = (command: string): string | undefined =>
  (process.env['PATH'] ?? '')
    .split(delimiter)
    .filter(Boolean)
    .map((dir) => join(dir, command))
    .find((file) => commandProblem(file, undefined) === undefined);

/**
 * The one process per state directory that runs the local runtime's pods (see
 * runtime-owner.ts for who starts it and what it belongs to). It spawns each pod's command
 * directly, in a process group of its own, under `setpriv --pdeathsig KILL` where available, so
 * a pod cannot outlive its host even by a kill -9; every pod's stdin is a pipe from the host,
 * which closes when the host dies, a second way for a pod to learn of it. It learns of exits
 * from the children's exit events (nothing polls a pod), records them in <pod>.exit, and
 * answers readiness checks for many deployments from memory in one request.
 *
 * It never restarts a pod: a pod that ran once has a record, and a later start request leaves
 * it as it is, running or exited, so a command that exits is reported failed, not retried.
 */
export class PodHost {
  private readonly deployments = new Map<string, HostedDeployment>();
  private readonly setpriv = findOnPath('setpriv');
  private readonly log: (line: string) => void;
  private server?: Server;
  private token = '';
  private ready?: Promise<void>;
  private ownerWatch?: NodeJS.Timeout;
  private shuttingDown?: Promise<boolean>;

  constructor(private readonly options: PodHostOptions) {
    this.log = options.log ?? ((line) => process.stdout.write(`[pod-host ${now()}] ${line}\n`));
  }

  /**
   * Binds the host's socket, takes over what an earlier host left, and starts watching the
   * owner. Answers false, doing nothing, when another host already serves the state directory.
   */
  async start(): Promise<boolean> {
    const { stateDir } = this.options;
    await fs.mkdir(stateDir, { recursive: true });
    this.token = await stateDirToken(stateDir);
    const server = createServer((socket) => this.serve(socket));
    if (!(await this.bind(server))) return false;
    this.server = server;
    this.ready = this.adopt();
    await this.ready;
    const info: HostInfo = { pid: process.pid, startTime: processStartTime(process.pid), startedAt: now() };
    writeFileAtomicSync(hostInfoFile(stateDir), JSON.stringify(info));
    this.watchOwner();
    this.log(`serving ${stateDir} (pid ${process.pid}, setpriv ${this.setpriv ? 'yes' : 'no'})`);
    return true;
  }

  private async bind(server: Server): Promise<boolean> {
    const path = hostSocketPath(this.options.stateDir);
    const listen = () =>
      new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(path, () => {
          server.off('error', reject);
          resolve();
        });
      });
    try {
      await listen();
      return true;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw error;
      // An abstract socket in use is a live host. A socket file may be a dead host's.
      if (path.startsWith('\0') || (await socketAnswers(path))) return false;
      await fs.rm(path, { force: true });
      await listen();
      return true;
    }
  }

  /**
   * Pods of an earlier host died with it (parent-death signal, closed stdin); their records
   * stay, marked exited, so they are reported failed and never started again. What they
   * started in the background may still run: every process with the state directory's label
   * is killed, since this host has no pod yet.
   */
  private async adopt(): Promise<void> {
    const { stateDir } = this.options;
    const strays = await strayPodProcesses(stateDir);
    killStrays(strays);
    let adopted = 0;
    for (const deploymentId of await listEntries(workloadsDir(stateDir))) {
      const deployment = this.deployment(deploymentId);
      for (const name of await listEntries(podsDir(stateDir, deploymentId), '.json')) {
        const files = podFiles(stateDir, deploymentId, name);
        const record = await readJson<PodRecord>(files.record).catch(() => undefined);
        if (!record) continue;
        let exit = await readJson<PodExit>(files.exit).catch(() => undefined);
        if (!exit) {
          exit = { code: null, signal: null, reason: 'its pod host was gone', at: now() };
          writeFileAtomicSync(files.exit, JSON.stringify(exit));
          appendLine(files.log, `the pod host that ran pid ${record.pid} was gone; recorded as exited`);
        }
        deployment.pods.set(name, { name, files, pid: record.pid, startedAt: record.startedAt, ready: false, exit });
        adopted += 1;
      }
    }
    if (adopted + strays.length > 0) this.log(`took over ${adopted} pod records of an earlier host; killed ${strays.length} stray processes`);
  }

  private deployment(id: string): HostedDeployment {
    let deployment = this.deployments.get(id);
    if (!deployment) {
      deployment = { id, pods: new Map() };
      this.deployments.set(id, deployment);
    }
    return deployment;
  }

  private watchOwner(): void {
    let busy = false;
    this.ownerWatch = setInterval(() => {
      if (busy) return;
      busy = true;
      void isOwnerAlive(this.options.stateDir)
        .then(async (alive) => {
          if (alive) return;
          this.log('the runtime owner is gone: stopping every pod');
          await this.shutdown('runtime owner is gone', this.options.graceMs, false);
          this.exit();
        })
        .finally(() => (busy = false));
    }, this.options.ownerPollMs);
  }

  private serve(socket: Socket): void {
    socket.on('error', () => socket.destroy());
    socket.on(
      'data',
      lineReader((line) => void this.answer(socket, line)),
    );
  }

  private async answer(socket: Socket, line: string): Promise<void> {
    let envelope: Envelope;
    try {
      envelope = JSON.parse(line) as Envelope;
    } catch {
      socket.destroy();
      return;
    }
    const reply = (message: Reply) => {
      if (!socket.destroyed) socket.write(`${JSON.stringify(message)}\n`);
    };
    if (envelope.token !== this.token) {
      reply({ id: envelope.id, error: 'wrong token for this state directory' });
      socket.end();
      return;
    }
    try {
      await this.ready;
      const result = await this.handle(envelope.request);
      reply({ id: envelope.id, result });
      if (envelope.request.op === 'stopAll' && envelope.request.exit) socket.end(() => this.exit());
    } catch (error) {
      reply({ id: envelope.id, error: errorMessage(error) });
    }
  }

  private handle(request: HostRequest): Promise<HostAnswers[HostRequest['op']]> {
    switch (request.op) {
      case 'ping':
        return Promise.resolve({ pid: process.pid });
      case 'start':
        return this.startPods(request);
      case 'check':
        return this.check(request);
      case 'stop':
        return this.stop(request);
      case 'stopAll':
        return this.shutdown(request.reason, request.graceMs, true).then((gone) => ({ gone }));
      default: {
        const unknown: never = request;
        throw new Error(`unknown request ${JSON.stringify(unknown)}`);
      }
    }
  }

  private async startPods(request: RequestOf<'start'>): Promise<HostAnswers['start']> {
    if (this.shuttingDown) throw new Error('the pod host is stopping every pod; nothing new starts');
    const deployment = this.deployment(request.deploymentId);
    if (deployment.stopping) throw new Error(`deployment ${request.deploymentId} is being deleted`);
    const { stateDir } = this.options;
    const pods: Record<string, 'started' | 'existing'> = {};
    const launches: Promise<void>[] = [];
    // Every decision is taken before the first await, so a concurrent request for the same
    // deployment (a redelivered command) sees the pods as existing.
    for (const launch of request.pods) {
      const files = podFiles(stateDir, request.deploymentId, launch.name);
      if (deployment.pods.has(launch.name) || recordExists(files)) {
        pods[launch.name] = 'existing';
        continue;
      }
      const pod: HostedPod = { name: launch.name, files, pid: null, startedAt: now(), ready: false };
      deployment.pods.set(launch.name, pod);
      pods[launch.name] = 'started';
      launches.push(this.launch(deployment, pod, launch));
    }
    await fs.mkdir(podsDir(stateDir, request.deploymentId), { recursive: true });
    await createFileExclusive(join(deploymentDir(stateDir, request.deploymentId), 'workload.json'), JSON.stringify(request.workload));
    await Promise.all(launches);
    return { pods };
  }

  private async launch(deployment: HostedDeployment, pod: HostedPod, launch: PodLaunch): Promise<void> {
    await fs.mkdir(podsDir(this.options.stateDir, deployment.id), { recursive: true });
    let port: number | undefined;
    let bridge: StdioWebSocketBridge | undefined;
    const env = { ...launch.env };
    if (launch.simulatorSocket === 'stdio-bridge') {
      bridge = await StdioWebSocketBridge.listen(pod.name);
      port = bridge.port;
    } else if (launch.simulatorSocket === 'command') {
      port = await allocatePort();
      env['SIMDEPLOY_SIMULATOR_PORT'] = String(port);
    }
    const record = (pid: number | null): PodRecord => ({ pid, name: pod.name, role: launch.role, command: launch.command, startedAt: pod.startedAt, ...(port ? { port } : {}) });
    if (deployment.stopping || this.shuttingDown) {
      bridge?.close('deleted before it started');
      writeFileAtomicSync(pod.files.record, JSON.stringify(record(null)));
      this.exited(deployment, pod, null, null, pod.stopReason ?? 'deleted before it started');
      return;
    }
    const [program = '', ...args] = launch.command;
    const problem = commandProblem(program, env['PATH']);
    if (problem) {
      bridge?.close('could not start');
      appendLine(pod.files.log, `could not start ${program}: ${problem}`);
      writeFileAtomicSync(pod.files.record, JSON.stringify(record(null)));
      this.exited(deployment, pod, 127, null, `spawn failed: ${problem}`);
      return;
    }
    const log = openSync(pod.files.log, 'a');
    let child: ChildProcess;
    try {
      const argv = this.setpriv ? [this.setpriv, '--pdeathsig', 'KILL', '--', program, ...args] : [program, ...args];
      child = spawn(argv[0] as string, argv.slice(1), { detached: true, stdio: ['pipe', bridge ? 'pipe' : log, log], env });
    } catch (error) {
      closeSync(log);
      bridge?.close('could not start');
      appendLine(pod.files.log, `could not start ${program}: ${errorMessage(error)}`);
      writeFileAtomicSync(pod.files.record, JSON.stringify(record(null)));
      this.exited(deployment, pod, 127, null, `spawn failed: ${errorMessage(error)}`);
      return;
    }
    pod.pid = child.pid ?? null;
    pod.bridge = bridge;
    // Recorded before the event loop runs again: a host killed right after still leaves a record.
    writeFileAtomicSync(pod.files.record, JSON.stringify(record(pod.pid)));
    if (port) writeFileAtomicSync(pod.files.port, String(port));
    appendLine(pod.files.log, `started pid ${pod.pid}: ${launch.command.join(' ')}`);
    child.once('exit', (code, signal) => this.exited(deployment, pod, code, signal, pod.stopReason ?? 'exited'));
    child.once('error', (error) => {
      appendLine(pod.files.log, `could not start ${program}: ${error.message}`);
      this.exited(deployment, pod, 127, null, `spawn failed: ${error.message}`);
    });
    (child.stdin as Writable).on('error', () => undefined);
    if (bridge) {
      bridge.attach(child.stdin as Writable, child.stdout as Readable, (chunk) => write(log, chunk, () => undefined));
      child.once('close', () => closeSync(log));
    } else {
      closeSync(log);
    }
  }

  private exited(deployment: HostedDeployment, pod: HostedPod, code: number | null, signal: NodeJS.Signals | null, reason: string): void {
    if (pod.exit) return;
    // What the command left running in its group goes with it, as a container's processes would.
    if (pod.pid) {
      try {
        process.kill(-pod.pid, 'SIGKILL');
      } catch {
        // nothing left in the group
      }
    }
    pod.exit = { code, signal, reason, at: now() };
    try {
      writeFileAtomicSync(pod.files.exit, JSON.stringify(pod.exit));
    } catch (error) {
      this.log(`could not record the exit of ${pod.name}: ${errorMessage(error)}`);
    }
    if (pod.pid) appendLine(pod.files.log, `command exited (code ${code}, signal ${signal})`);
    pod.bridge?.close(`simulator ${pod.name} exited`);
    pod.bridge = undefined;
    rmSync(pod.files.port, { force: true });
    if (deployment.stopping && [...deployment.pods.values()].every((p) => p.exit)) deployment.stopping.resolve();
  }

  private async check(request: RequestOf<'check'>): Promise<HostAnswers['check']> {
    const deployments: HostAnswers['check']['deployments'] = {};
    const readyFiles: Promise<void>[] = [];
    for (const { deploymentId, pods } of request.deployments) {
      const hosted = this.deployments.get(deploymentId);
      const answers: Record<string, PodStatus> = {};
      deployments[deploymentId] = answers;
      for (const name of pods) {
        const pod = hosted?.pods.get(name);
        if (!pod) answers[name] = { state: 'missing' };
        else if (pod.exit) answers[name] = { state: 'exited', pid: pod.pid, startedAt: pod.startedAt, exit: pod.exit };
        else if (pod.pid === null) answers[name] = { state: 'missing' };
        else {
          const { pid, startedAt } = pod;
          answers[name] = { state: pod.ready ? 'ready' : 'running', pid, startedAt };
          // Ready files are looked at only until they appear; a ready pod costs nothing to check.
          if (!pod.ready) {
            readyFiles.push(
              pathExists(pod.files.ready).then((ready) => {
                if (!ready || pod.exit) return;
                pod.ready = true;
                answers[name] = { state: 'ready', pid, startedAt };
              }),
            );
          }
        }
      }
    }
    await Promise.all(readyFiles);
    return { deployments };
  }

  private async stop(request: RequestOf<'stop'>): Promise<HostAnswers['stop']> {
    const stopped = request.deploymentIds.map((id) => this.stopDeployment(id, request.graceMs, request.reason, true));
    await Promise.race([Promise.all(stopped), pause(request.waitMs)]);
    const gone: Record<string, boolean> = {};
    for (const id of request.deploymentIds) gone[id] = !this.deployments.has(id) && !(await pathExists(deploymentDir(this.options.stateDir, id)));
    return { gone };
  }

  /**
   * SIGTERM to every pod's process group at once, SIGKILL to what is left after graceMs (a
   * timer here: the host lives as long as the pods do). Resolves when every pod has exited and,
   * with removeFiles, the deployment's files are gone.
   */
  private async stopDeployment(id: string, graceMs: number, reason: string, removeFiles: boolean): Promise<void> {
    const deployment = this.deployments.get(id);
    if (deployment && !deployment.stopping) {
      let resolve = () => undefined as void;
      const done = new Promise<void>((r) => (resolve = r));
      const stopping: Stopping = { since: Date.now(), done, resolve };
      deployment.stopping = stopping;
      const live = [...deployment.pods.values()].filter((pod) => !pod.exit);
      for (const pod of live) {
        pod.stopReason ??= reason;
        if (pod.pid) signalGroup(pod.pid, 'SIGTERM');
      }
      if (live.length === 0) stopping.resolve();
      else {
        stopping.killTimer = setTimeout(() => {
          for (const pod of deployment.pods.values()) {
            if (pod.exit || !pod.pid) continue;
            appendLine(pod.files.log, `still running ${graceMs} ms after SIGTERM: SIGKILL`);
            signalGroup(pod.pid, 'SIGKILL');
          }
        }, graceMs);
      }
    }
    if (deployment?.stopping) {
      await deployment.stopping.done;
      clearTimeout(deployment.stopping.killTimer);
    }
    if (!removeFiles) return;
    if (this.deployments.get(id) === deployment) this.deployments.delete(id);
    await fs.rm(deploymentDir(this.options.stateDir, id), { recursive: true, force: true });
  }

  /** Stops every pod (and, with removeFiles, every deployment's files); answers whether all are gone. */
  private shutdown(reason: string, graceMs: number, removeFiles: boolean): Promise<boolean> {
    this.shuttingDown ??= (async () => {
      const ids = new Set([...this.deployments.keys(), ...(removeFiles ? await listEntries(workloadsDir(this.options.stateDir)) : [])]);
      await Promise.all([...ids].map((id) => this.stopDeployment(id, graceMs, reason, removeFiles)));
      return [...this.deployments.values()].every((d) => [...d.pods.values()].every((pod) => pod.exit));
    })();
    return this.shuttingDown;
  }

  private exit(): void {
    clearInterval(this.ownerWatch);
    this.server?.close();
    this.log('exiting');
    process.exit(0);
  }

  /** For the host process's own SIGTERM: stop the pods first, as the owner going away would. */
  async stopAndExit(reason: string): Promise<void> {
    await this.shutdown(reason, this.options.graceMs, false);
    this.exit();
  }
}

function recordExists(files: PodFiles): boolean {
  try {
    statSync(files.record);
    return true;
  } catch {
    return false;
  }
}

function appendLine(log: string, line: string): void {
  try {
    appendFileSync(log, `[pod-host ${now()}] ${line}\n`);
  } catch {
    // the deployment's files are being removed
  }
}

function socketAnswers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path, () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}
