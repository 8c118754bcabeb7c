import { spawn } from 'node:child_process';
import { existsSync, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { Readable } from 'node:stream';
import type { PodPlan, PodRole } from '@simdeploy/domain';
import { PodRuntime, type DeletionResult, type ManagedWorkload, type ReadinessCheck, type SimulatorEndpoint, type WorkloadRequest } from '../ports';
import {
  deploymentDir,
  isPodAlive,
  podFiles,
  podLabels,
  podsDir,
  stopDeploymentStep,
  workloadsDir,
  type PodExit,
  type PodFiles,
  type PodRecord,
} from './pod-processes';
import { ensureOwner, ownerFile, releaseAndKillAll } from './runtime-owner';
import { createFileExclusive, DEFAULT_LOCAL_STATE_DIR, listEntries, pathExists, readJson, tailLines, writeFileAtomic } from './state-files';

export interface LocalPodRuntimeOptions {
  /** Shared by every process of the local system. */
  stateDir?: string;
  /** Command of the simulator pod. Default: sh tools/simulator/simulator.sh. */
  simulatorCommand?: readonly string[];
  /** Command of robot pods. Default: the default simulator program with `--role robot`. */
  robotCommand?: readonly string[];
  /** Command of bridge pods. Default: the default simulator program with `--role bridge`. */
  bridgeCommand?: readonly string[];
  /** A pod alive but not ready for this long is failed. Default: no limit (the phase deadline applies). */
  readinessTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL when a pod is stopped. Default 5000. */
  graceMs?: number;
  /** How often a pod supervisor checks that the runtime owner still runs. Default 250. */
  ownerPollMs?: number;
  /** Extra environment for every pod. */
  env?: Readonly<Record<string, string>>;
}

const LOG_LINES_ON_FAILURE = 20;

const SUPERVISOR = 'supervise.sh';
/** POSIX shell scripts: a few MB per process where Node takes 40, for hundreds of pods on one machine. */
const SHELL = '/bin/sh';

/** tools/simulator of this checkout, found upwards from here so it works from sources and from a build. */
function findSimulatorTools(): string {
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, 'tools', 'simulator');
      if (existsSync(join(candidate, SUPERVISOR))) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`tools/simulator/${SUPERVISOR} not found above ${__dirname} or ${process.cwd()}`);
}

/**
 * Until the supervisor reports on fd 3 that it started the command (or closes fd 3 without a word:
 * it failed, and says why in the exit file). Its start-up forks carry the pod's labels and command
 * line until they exec; once this resolves the pod is its supervisor and its program, nothing more.
 */
function supervisorStarted(channel: Readable, timeoutMs = 10_000): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      clearTimeout(timer);
      channel.destroy();
      resolve();
    };
    const timer = setTimeout(done, timeoutMs);
    for (const event of ['data', 'end', 'close', 'error']) channel.once(event, done);
  });
}

const describeExit = (exit: PodExit): string =>
  (exit.signal ? `killed by signal ${exit.signal}` : `exited with code ${exit.code}`) +
  (exit.reason === 'exited' ? '' : ` (${exit.reason})`);

/**
 * Pods are processes on this machine, each run by tools/simulator/supervise.sh in its own
 * process group; see runtime-owner.ts for why they outlive the service that started them and
 * what stops them. All state is in files under stateDir, so a restarted launcher, or the
 * terminator in another process, sees the same pods.
 */
export class LocalPodRuntime extends PodRuntime {
  readonly stateDir: string;
  private readonly graceMs: number;
  private readonly ownerPollMs: number;
  private readonly tools = findSimulatorTools();
  private readonly commands: Record<PodRole, readonly string[]>;

  constructor(private readonly options: LocalPodRuntimeOptions = {}) {
    super();
    this.stateDir = options.stateDir ?? DEFAULT_LOCAL_STATE_DIR;
    this.graceMs = options.graceMs ?? 5_000;
    this.ownerPollMs = options.ownerPollMs ?? 250;
    const program = [SHELL, join(this.tools, 'simulator.sh')];
    this.commands = {
      simulator: options.simulatorCommand ?? program,
      robot: options.robotCommand ?? [...program, '--role', 'robot'],
      bridge: options.bridgeCommand ?? [...program, '--role', 'bridge'],
    };
  }

  /** A local slot is this machine, which is always a node. */
  override async checkNodesJoined(_deploymentId: string, _nodeNames: readonly string[]): Promise<ReadinessCheck> {
    return { state: 'ready' };
  }

  override async createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void> {
    const { deploymentId, plan } = request;
    await fs.mkdir(podsDir(this.stateDir, deploymentId), { recursive: true });
    await ensureOwner(this.stateDir);
    // Services and network policies mean nothing between local processes; they are recorded for the audit trail.
    await createFileExclusive(
      join(deploymentDir(this.stateDir, deploymentId), 'workload.json'),
      JSON.stringify({ deploymentId, owner: request.owner, services: plan.services, networkPolicies: plan.networkPolicies }),
    );
    for (const pod of plan.pods) {
      signal?.throwIfAborted();
      const files = podFiles(this.stateDir, deploymentId, pod.name);
      if (await isPodAlive(await readJson<PodRecord>(files.record), files)) continue;
      await this.startPod(request, pod, files);
    }
  }

  private async startPod(request: WorkloadRequest, pod: PodPlan, files: PodFiles): Promise<void> {
    await Promise.all([files.ready, files.exit].map((file) => fs.rm(file, { force: true })));
    const command = [...this.commands[pod.role]];
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...this.options.env,
      ...podLabels(this.stateDir, request.deploymentId),
      SIMDEPLOY_POD_NAME: pod.name,
      SIMDEPLOY_POD_ROLE: pod.role,
      SIMDEPLOY_WORLD: request.spec.world,
      SIMDEPLOY_IMAGE: pod.image,
      SIMDEPLOY_READY_FILE: files.ready,
      ...(pod.robot === undefined ? {} : { SIMDEPLOY_ROBOT: pod.robot }),
    };
    const log = await fs.open(files.log, 'a');
    try {
      const child = spawn(
        SHELL,
        [
          join(this.tools, SUPERVISOR),
          ...['--pod', files.base, '--owner-file', ownerFile(this.stateDir)],
          ...['--grace-ms', String(this.graceMs), '--poll-ms', String(this.ownerPollMs), '--'],
          ...command,
        ],
        { detached: true, stdio: ['ignore', log.fd, log.fd, 'pipe'], env },
      );
      await new Promise<void>((resolve, reject) => {
        child.once('spawn', resolve);
        child.once('error', reject);
      });
      child.unref();
      const record: PodRecord = { pid: child.pid as number, name: pod.name, role: pod.role, command, startedAt: new Date().toISOString() };
      await writeFileAtomic(files.record, JSON.stringify(record));
      await supervisorStarted(child.stdio[3] as Readable);
    } finally {
      await log.close();
    }
  }

  override async checkWorkload(deploymentId: string, pods: readonly PodPlan[]): Promise<ReadinessCheck> {
    const waiting: string[] = [];
    for (const pod of pods) {
      const files = podFiles(this.stateDir, deploymentId, pod.name);
      const exit = await readJson<PodExit>(files.exit);
      const record = await readJson<PodRecord>(files.record);
      if (exit) return this.failed(files, 'PodExited', `pod ${pod.name} ${describeExit(exit)}`);
      if (!record) {
        waiting.push(`${pod.name} not started`);
        continue;
      }
      if (!(await isPodAlive(record, files))) {
        return this.failed(files, 'PodExited', `pod ${pod.name} (pid ${record.pid}) is gone without an exit status`);
      }
      if (await pathExists(files.ready)) continue;
      const waitedMs = Date.now() - Date.parse(record.startedAt);
      if (this.options.readinessTimeoutMs !== undefined && waitedMs > this.options.readinessTimeoutMs) {
        return this.failed(files, 'PodNotReady', `pod ${pod.name} not ready after ${waitedMs} ms`);
      }
      waiting.push(`${pod.name} not ready`);
    }
    return waiting.length === 0 ? { state: 'ready' } : { state: 'pending', detail: waiting.join(', ') };
  }

  private async failed(files: PodFiles, code: string, message: string): Promise<ReadinessCheck> {
    return { state: 'failed', error: { code, message, transient: false }, logs: await tailLines(files.log, LOG_LINES_ON_FAILURE) };
  }

  /** Does not wait out the grace period: answers `gone: false` and finishes on a later call. */
  override async deleteWorkload(deploymentId: string): Promise<DeletionResult> {
    return { gone: await stopDeploymentStep(this.stateDir, deploymentId, this.graceMs) };
  }

  /** Slots have no node objects to cordon or drain. */
  override async deleteNodes(_deploymentId: string, _nodeNames: readonly string[]): Promise<DeletionResult> {
    return { gone: true };
  }

  /** The simulator writes the port it listens on to <pod>.port once it is up. */
  override async simulatorEndpoint(deploymentId: string): Promise<SimulatorEndpoint | null> {
    const simulator = (await listEntries(podsDir(this.stateDir, deploymentId), '.json')).find((name) => name.endsWith('-gzserver'));
    if (!simulator) return null;
    const port = await fs.readFile(`${podFiles(this.stateDir, deploymentId, simulator).base}.port`, 'utf8').then(
      (text) => Number.parseInt(text.trim(), 10),
      () => NaN,
    );
    return Number.isInteger(port) && port > 0 ? { url: `http://127.0.0.1:${port}` } : null;
  }

  override async readLogs(deploymentId: string, podName: string, tail: number): Promise<string[]> {
    return tailLines(podFiles(this.stateDir, deploymentId, podName).log, tail);
  }

  override async listManagedWorkloads(): Promise<ManagedWorkload[]> {
    const deployments = await listEntries(workloadsDir(this.stateDir));
    return Promise.all(
      deployments.map(async (deploymentId) => ({ deploymentId, pods: await listEntries(podsDir(this.stateDir, deploymentId), '.json') })),
    );
  }

  /**
   * For onApplicationShutdown. Pods belong to the runtime owner, not to the service that
   * started them, so only the owner stops them here; any other service leaves them running.
   */
  async shutdown(): Promise<void> {
    const owner = await readJson<{ pid: number }>(ownerFile(this.stateDir)).catch(() => undefined);
    if (owner?.pid === process.pid) await releaseAndKillAll(this.stateDir, this.graceMs);
  }
}
