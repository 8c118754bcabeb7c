import type { PodPlan } from '@simdeploy/domain';
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
import type { FaultGate } from './fault-gate';
import { nodeCondition } from './simulated-node-provider';
import { rollFault, sampleDelay, type DelayDistribution, type SimulatedFault } from './sampling';
import type { SimulatedPod, SimulatedState, SimulatedWorkload } from './simulated-state';

export interface SimulatedPodSettings {
  readyDelay: DelayDistribution;
  faults: readonly SimulatedFault[];
  seed: number;
  clock: () => number;
}

/** What a simulated pod that fails exits with. */
const SIMULATED_EXIT_CODE = 1;

type PodCondition = 'pending' | 'ready' | 'failed';

const podCondition = (workload: SimulatedWorkload, pod: SimulatedPod, now: number): PodCondition => {
  if (pod.fate === 'hang' || now < workload.createdAtMs + pod.readyMs) return 'pending';
  return pod.fate === 'fail' ? 'failed' : 'ready';
};

/** The lines a simulated pod "wrote", made up from its record. */
function podLog(workload: SimulatedWorkload, pod: SimulatedPod, now: number): string[] {
  const at = (ms: number) => new Date(ms).toISOString();
  const lines = [`[simulated ${pod.name}] ${at(workload.createdAtMs)} starting (${pod.role})`];
  const condition = podCondition(workload, pod, now);
  if (condition === 'ready') lines.push(`[simulated ${pod.name}] ${at(workload.createdAtMs + pod.readyMs)} ready`);
  if (condition === 'failed') lines.push(`[simulated ${pod.name}] ${at(workload.createdAtMs + pod.readyMs)} simulated failure: exiting with code ${SIMULATED_EXIT_CODE}`);
  return lines;
}

/**
 * Pods that are records: createWorkload writes the deployment's workload once (a retry or a
 * second process finds it and leaves it alone: nothing restarts), each pod becomes ready when
 * the delay drawn for it has passed since the workload was created, or fails then with an exit
 * code and log lines if its fate says so. Nodes have joined once their machines run.
 */
export class SimulatedPodRuntime extends PodRuntime {
  constructor(
    private readonly state: SimulatedState,
    private readonly gate: FaultGate,
    private readonly settings: SimulatedPodSettings,
  ) {
    super();
  }

  override async checkNodesJoined(deploymentId: string, nodeNames: readonly string[], signal?: AbortSignal): Promise<ReadinessCheck> {
    await this.gate.before('checkNodesJoined', signal);
    return this.joined(deploymentId, nodeNames);
  }

  override async checkNodesJoinedBatch(requests: readonly NodesJoinedCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    await this.gate.before('checkNodesJoined', signal);
    return new Map(requests.map((r) => [r.deploymentId, this.joined(r.deploymentId, r.nodeNames)]));
  }

  private joined(deploymentId: string, nodeNames: readonly string[]): ReadinessCheck {
    const now = this.settings.clock();
    const waiting: string[] = [];
    for (const name of nodeNames) {
      const node = this.state.nodeNamed(name);
      const condition = node && node.deploymentId === deploymentId ? nodeCondition(node, now) : undefined;
      if (condition === 'terminated' || condition === 'failed') {
        return { state: 'failed', error: { code: 'NodeNotReady', message: `node ${name} is ${condition}`, transient: false } };
      }
      if (condition !== 'running') waiting.push(name);
    }
    if (waiting.length === 0) return { state: 'ready' };
    const detail = `not joined yet: ${waiting.join(', ')}`;
    return { state: 'pending', detail, reason: { code: 'NodeNotJoined', message: detail } };
  }

  override async createWorkload(request: WorkloadRequest, signal?: AbortSignal): Promise<void> {
    await this.gate.before('createWorkload', signal);
    // A retry, or another process, may have created it: the create leaves an existing one alone.
    if (this.state.workload(request.deploymentId)) return;
    const { seed, faults } = this.settings;
    const pods = request.plan.pods.map((pod): SimulatedPod => {
      const key = `pod:${request.deploymentId}:${pod.name}`;
      const fate = rollFault(faults, 'pod', seed, key);
      return {
        name: pod.name,
        role: pod.role,
        readyMs: sampleDelay(this.settings.readyDelay, seed, key) + (fate?.mode === 'slow' ? (fate.delayMs ?? 0) : 0),
        fate: fate?.mode === 'fail' ? 'fail' : fate?.mode === 'hang' ? 'hang' : 'ok',
      };
    });
    await this.state.createWorkload({
      deploymentId: request.deploymentId,
      owner: request.owner,
      createdAtMs: this.settings.clock(),
      pods,
      services: request.plan.services,
      networkPolicies: request.plan.networkPolicies,
    });
  }

  override async checkWorkload(deploymentId: string, pods: readonly PodPlan[], signal?: AbortSignal): Promise<ReadinessCheck> {
    await this.gate.before('checkWorkload', signal);
    return this.judge(deploymentId, pods, await this.state.findWorkload(deploymentId));
  }

  override async checkWorkloadBatch(requests: readonly WorkloadCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    await this.gate.before('checkWorkload', signal);
    const answers: ReadinessByDeployment = new Map();
    await Promise.all(
      requests.map(async (r) => answers.set(r.deploymentId, this.judge(r.deploymentId, r.pods, this.state.workload(r.deploymentId) ?? (await this.state.findWorkload(r.deploymentId))))),
    );
    return answers;
  }

  private judge(deploymentId: string, planned: readonly PodPlan[], workload: SimulatedWorkload | undefined): ReadinessCheck {
    if (!workload) {
      return { state: 'pending', detail: `no workload for ${deploymentId} yet` };
    }
    const now = this.settings.clock();
    const waiting: string[] = [];
    for (const plan of planned) {
      const pod = workload.pods.find((p) => p.name === plan.name);
      if (!pod) {
        waiting.push(`${plan.name} not started`);
        continue;
      }
      const condition = podCondition(workload, pod, now);
      if (condition === 'failed') {
        const message = `pod ${pod.name} exited with code ${SIMULATED_EXIT_CODE} (simulated failure)`;
        return { state: 'failed', error: { code: 'PodExited', message, transient: false }, logs: podLog(workload, pod, now) };
      }
      if (condition === 'pending') waiting.push(`${pod.name} not ready`);
    }
    if (waiting.length === 0) return { state: 'ready' };
    return { state: 'pending', detail: waiting.join(', ') };
  }

  override async deleteWorkload(deploymentId: string, signal?: AbortSignal): Promise<DeletionResult> {
    await this.gate.before('deleteWorkload', signal);
    if (await this.state.findWorkload(deploymentId)) await this.state.deleteWorkload(deploymentId);
    return { gone: true };
  }

  override async deleteNodes(_deploymentId: string, _nodeNames: readonly string[], signal?: AbortSignal): Promise<DeletionResult> {
    await this.gate.before('deleteNodes', signal);
    return { gone: true };
  }

  override async listManagedWorkloads(signal?: AbortSignal): Promise<ManagedWorkload[]> {
    await this.gate.before('listManagedWorkloads', signal);
    await this.state.sync();
    return this.state.allWorkloads().map((w) => ({ deploymentId: w.deploymentId, pods: w.pods.map((p) => p.name) }));
  }

  /** No process listens for a simulated simulator. */
  override async simulatorEndpoint(): Promise<SimulatorEndpoint | null> {
    return null;
  }

  override async readLogs(deploymentId: string, podName: string, tail: number): Promise<string[]> {
    const workload = await this.state.findWorkload(deploymentId);
    const pod = workload?.pods.find((p) => p.name === podName);
    return workload && pod ? podLog(workload, pod, this.settings.clock()).slice(-tail) : [];
  }
}
