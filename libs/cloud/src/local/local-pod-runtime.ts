import { existsSync, promises as fs } from 'node:fs';
import { dirname, join } from 'node:path';
import type { PodPlan, PodRole } from '@simdeploy/domain';
import {
  PodRuntime,
  type DeletionResult,
  type ManagedWorkload,
  type NodesJoinedCheckRequest,
  type ReadinessByDeployment,
  type ReadinessCheck,
  type SimulatorEndpoint,
  type WorkloadCheckRequest,
  type WorkloadRequest,
} from '../ports';
import { PodHostClient } from './pod-host-client';
import type { PodLaunch, PodStatus, RequestOf, SimulatorSocketMode } from './pod-host-protocol';
import { deploymentDir, describeExit, podFiles, podLabels, podsDir, workloadsDir, type PodExit, type PodFiles, type PodRecord } from './pod-processes';
import { ensureOwner, ownerFile, releaseAndKillAll } from './runtime-owner';
import { DEFAULT_LOCAL_STATE_DIR, listEntries, pathExists, readJson, tailLines } from './state-files';

export interface LocalPodRuntimeOptions {
  /** Shared by every process of the local system. */
  stateDir?: string;
  /** Command of the simulator pod. Default: sh tools/simulator/simulator.sh. */
  simulatorCommand?: readonly string[];
  /** Command of robot pods. Default: the default simulator program with `--role robot`. */
  robotCommand?: readonly string[];
  /** Command of bridge pods. Default: the default simulator program with `--role bridge`. */
  bridgeCommand?: readonly string[];
  /**
   * How the access proxy reaches the simulator: `stdio-bridge`, a WebSocket served by the pod
   * host and bridged to the simulator's stdin/stdout (the default for the bundled simulator),
   * or `command`, the command listens itself on SIMDEPLOY_SIMULATOR_PORT (the default for a
   * simulatorCommand of your own).
   */
  simulatorSocket?: SimulatorSocketMode;
  /** A pod alive but not ready for this long is failed. Default: no limit (the phase deadline applies). */
  readinessTimeoutMs?: number;
  /** Between SIGTERM and SIGKILL when a pod is stopped. Default 5000. */
  graceMs?: number;
  /** How often the pod host checks that the runtime owner still runs. Default 250. */
  ownerPollMs?: number;
  /** Extra environment for every pod. */
  env?: Readonly<Record<string, string>>;
}

const LOG_LINES_ON_FAILURE = 20;
/** How long a delete waits for pods that exit at once on SIGTERM before it answers. */
const DELETE_WAIT_MS = 250;
/** POSIX shell script: a dash process is about 1 MB where Node takes 40, for thousands of pods on one machine. */
const SHELL = '/bin/sh';
const SIMULATOR_SCRIPT = 'simulator.sh';

/** tools/simulator of this checkout, found upwards from here so it works from sources and from a build. */
function findSimulatorTools(): string {
  for (const start of [__dirname, process.cwd()]) {
    for (let dir = start; ; dir = dirname(dir)) {
      const candidate = join(dir, 'tools', 'simulator');
      if (existsSync(join(candidate, SIMULATOR_SCRIPT))) return candidate;
      if (dirname(dir) === dir) break;
    }
  }
  throw new Error(`tools/simulator/${SIMULATOR_SCRIPT} not found above ${__dirname} or ${process.cwd()}`);
}

/**
 * Pods are processes on this machine, one per pod, run by the state directory's pod host
 * (pod-host.ts; runtime-owner.ts says why they outlive the service that started them and what
 * stops them). Services talk to the host over a socket for what changes pods and for batched
 * checks; everything is also in files under stateDir, so the sweep, the tests and a check made
 * while no host runs read the same state.
 */
export class LocalPodRuntime extends PodRuntime {
  readonly stateDir: string;
  private readonly graceMs: number;
  private readonly commands: Record<PodRole, readonly string[]>;
  private readonly simulatorSocket: SimulatorSocketMode;
  private readonly host: PodHostClient;

  constructor(private readonly options: LocalPodRuntimeOptions = {}) {
    super();
    this.stateDir = options.stateDir ?? DEFAULT_LOCAL_STATE_DIR;
    this.graceMs = options.graceMs ?? 5_000;
    const program = [SHELL, join(findSimulatorTools(), SIMULATOR_SCRIPT)];
    this.commands = {
      simulator: options.simulatorCommand ?? program,
      robot: options.robotCommand ?? [...program, '--role', 'robot'],
      bridge: options.bridgeCommand ?? [...program, '--role', 'bridge'],
    };
    this.simulatorSocket = options.simulatorSocket ?? (options.simulatorCommand ? 'command' : 'stdio-bridge');
    this.host = new PodHostClient(this.stateDir, { ownerPollMs: options.ownerPollMs ?? 250, graceMs: this.graceMs });
  }

  /** A local slot is this machine, which is always a node. */
  override async checkNodesJoined(_deploymentId: string, _nodeNames: readonly string[]): Promise<ReadinessCheck> {
    return { state: 'ready' };
  }

  override async checkNodesJoinedBatch(requests: readonly NodesJoinedCheckRequest[]): Promise<ReadinessByDeployment> {
    return new Map(requests.map((r) => [r.deploymentId, { state: 'ready' }]));
  }

  /**
   * Starts the pods that never ran. A pod that ran before, running or exited, is left as it
   * is: this runtime never restarts a pod on its own, so a command that exits is reported by
   * checkWorkload as failed, with its exit and its log, instead of being tried again.
   */
  override async createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void> {
    const { deploymentId, plan } = request;
    signal?.throwIfAborted();
    await ensureOwner(this.stateDir);
    const pods: PodLaunch[] = plan.pods.map((pod) => ({
      name: pod.name,
      role: pod.role,
      command: [...this.commands[pod.role]],
      env: this.podEnv(request, pod),
      ...(pod.role === 'simulator' ? { simulatorSocket: this.simulatorSocket } : {}),
    }));
    // Services and network policies mean nothing between local processes; they are recorded for the audit trail.
    const workload = { deploymentId, owner: request.owner, services: plan.services, networkPolicies: plan.networkPolicies };
    await this.host.request({ op: 'start', deploymentId, workload, pods }, { start: true });
  }

  private podEnv(request: WorkloadRequest, pod: PodPlan): Record<string, string> {
    const inherited = Object.fromEntries(Object.entries(process.env).filter((entry): entry is [string, string] => entry[1] !== undefined));
    return {
      ...inherited,
      ...this.options.env,
      ...podLabels(this.stateDir, request.deploymentId),
      SIMDEPLOY_POD_NAME: pod.name,
      SIMDEPLOY_POD_ROLE: pod.role,
      SIMDEPLOY_WORLD: request.spec.world,
      SIMDEPLOY_IMAGE: pod.image,
      SIMDEPLOY_READY_FILE: podFiles(this.stateDir, request.deploymentId, pod.name).ready,
      ...(pod.robot === undefined ? {} : { SIMDEPLOY_ROBOT: pod.robot }),
    };
  }

  override async checkWorkload(deploymentId: string, pods: readonly PodPlan[]): Promise<ReadinessCheck> {
    const check = (await this.checkWorkloadBatch([{ deploymentId, pods }])).get(deploymentId);
    if (!check) throw new Error(`no answer for ${deploymentId}`);
    return check;
  }

  /** One request to the pod host for every deployment, answered from its memory; the files when no host runs. */
  override async checkWorkloadBatch(requests: readonly WorkloadCheckRequest[]): Promise<ReadinessByDeployment> {
    const asked = requests.map((r) => ({ deploymentId: r.deploymentId, pods: r.pods.map((p) => p.name) }));
    const answer = await this.host.request({ op: 'check', deployments: asked }, { start: false });
    const statuses = answer?.deployments ?? (await this.statusesFromFiles(asked));
    const checks: ReadinessByDeployment = new Map();
    await Promise.all(
      requests.map(async (request) => {
        checks.set(request.deploymentId, await this.judge(request, statuses[request.deploymentId] ?? {}, answer !== undefined));
      }),
    );
    return checks;
  }

  private async judge(request: WorkloadCheckRequest, statuses: Record<string, PodStatus | 'gone'>, hostRunning: boolean): Promise<ReadinessCheck> {
    const notStarted: string[] = [];
    const notReady: string[] = [];
    for (const pod of request.pods) {
      const status = statuses[pod.name] ?? { state: 'missing' };
      const files = podFiles(this.stateDir, request.deploymentId, pod.name);
      if (status === 'gone') {
        const why = hostRunning ? '' : ' (no pod host is running)';
        return this.failed(files, 'PodExited', `pod ${pod.name} is gone without an exit status${why}`);
      }
      switch (status.state) {
        case 'exited':
          return this.failed(files, 'PodExited', `pod ${pod.name} ${describeExit(status.exit)}`);
        case 'missing':
          notStarted.push(pod.name);
          break;
        case 'running': {
          const waitedMs = Date.now() - Date.parse(status.startedAt);
          if (this.options.readinessTimeoutMs !== undefined && waitedMs > this.options.readinessTimeoutMs) {
            return this.failed(files, 'PodNotReady', `pod ${pod.name} not ready after ${waitedMs} ms`);
          }
          notReady.push(pod.name);
          break;
        }
        case 'ready':
          break;
      }
    }
    if (notStarted.length === 0 && notReady.length === 0) return { state: 'ready' };
    const detail = [...notStarted.map((name) => `${name} not started`), ...notReady.map((name) => `${name} not ready`)].join(', ');
    // Routine progress: a detail, no reason (a reason is a cause worth showing the user).
    return { state: 'pending', detail };
  }

  /** What the files say when no host runs: a pod with a record and no exit died with its host. */
  private async statusesFromFiles(asked: readonly { deploymentId: string; pods: string[] }[]): Promise<Record<string, Record<string, PodStatus | 'gone'>>> {
    const statuses: Record<string, Record<string, PodStatus | 'gone'>> = {};
    await Promise.all(
      asked.map(async ({ deploymentId, pods }) => {
        const answers: Record<string, PodStatus | 'gone'> = {};
        statuses[deploymentId] = answers;
        await Promise.all(
          pods.map(async (name) => {
            const files = podFiles(this.stateDir, deploymentId, name);
            const [record, exit] = await Promise.all([readJson<PodRecord>(files.record), readJson<PodExit>(files.exit)]);
            if (exit) answers[name] = { state: 'exited', pid: record?.pid ?? null, startedAt: record?.startedAt ?? exit.at, exit };
            else answers[name] = record ? 'gone' : { state: 'missing' };
          }),
        );
      }),
    );
    return statuses;
  }

  private async failed(files: PodFiles, code: string, message: string): Promise<ReadinessCheck> {
    return { state: 'failed', error: { code, message, transient: false }, logs: await tailLines(files.log, LOG_LINES_ON_FAILURE) };
  }

  /**
   * Does not wait out the grace period: the host SIGTERMs the pods, SIGKILLs them after graceMs
   * on its own, and removes the files; this answers `gone: false` until then.
   */
  override async deleteWorkload(deploymentId: string): Promise<DeletionResult> {
    const stop: RequestOf<'stop'> = { op: 'stop', deploymentIds: [deploymentId], graceMs: this.graceMs, waitMs: DELETE_WAIT_MS, reason: 'deleted' };
    const timeoutMs = DELETE_WAIT_MS + 30_000;
    let answer = await this.host.request(stop, { start: false, timeoutMs });
    if (!answer) {
      if (!(await pathExists(deploymentDir(this.stateDir, deploymentId)))) return { gone: true };
      // Files without a host: one is started, which kills what the dead host's pods left behind.
      await ensureOwner(this.stateDir);
      answer = await this.host.request(stop, { start: true, timeoutMs });
    }
    const gone = answer?.gone[deploymentId] ?? false;
    return gone ? { gone } : { gone, detail: `pods of ${deploymentId} still stopping (SIGKILL after ${this.graceMs} ms)` };
  }

  /** Slots have no node objects to cordon or drain. */
  override async deleteNodes(_deploymentId: string, _nodeNames: readonly string[]): Promise<DeletionResult> {
    return { gone: true };
  }

  /** The simulator pod's port, while it runs. */
  override async simulatorEndpoint(deploymentId: string): Promise<SimulatorEndpoint | null> {
    const simulator = (await listEntries(podsDir(this.stateDir, deploymentId), '.json')).find((name) => name.endsWith('-gzserver'));
    if (!simulator) return null;
    const files = podFiles(this.stateDir, deploymentId, simulator);
    if (await pathExists(files.exit)) return null;
    const port = await fs.readFile(files.port, 'utf8').then(
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
    this.host.close();
    const owner = await readJson<{ pid: number }>(ownerFile(this.stateDir)).catch(() => undefined);
    if (owner?.pid === process.pid) await releaseAndKillAll(this.stateDir, this.graceMs);
  }
}
