import { createHash } from 'node:crypto';
import {
  NodeProvider,
  ProviderError,
  type LaunchedNode,
  type ManagedInstance,
  type NodeCheckRequest,
  type NodeRequest,
  type ReadinessByDeployment,
  type ReadinessCheck,
} from '../ports';
import type { FaultGate } from './fault-gate';
import { rollFault, sampleDelay, type DelayDistribution, type SimulatedFault } from './sampling';
import type { SimulatedNode, SimulatedState } from './simulated-state';

export interface SimulatedNodeSettings {
  bootDelay: DelayDistribution;
  faults: readonly SimulatedFault[];
  seed: number;
  /** Live nodes at most; a launch beyond gets a transient capacity error. */
  capacity?: number;
  /** How long a terminated node stays visible to a launch retried with its token. */
  tombstoneRetentionMs: number;
  clock: () => number;
}

/** Derived from the client token, so every process and every retry names the same instance. */
export const simulatedInstanceIdFor = (clientToken: string): string =>
  `i-sim-${createHash('sha256').update(clientToken).digest('hex').slice(0, 17)}`;

export const simulatedNodeNameFor = (deploymentId: string, role: string, index: number): string => `simnode-${deploymentId}-${role}-${index}`;

/** pending until its boot is over, running after; a node whose fate is to fail does so once it would have run. */
export function nodeCondition(node: SimulatedNode, now: number): 'pending' | 'running' | 'failed' | 'terminated' {
  if (node.terminatedAtMs !== undefined) return 'terminated';
  if (node.fate === 'hang' || now < node.launchedAtMs + node.bootMs) return 'pending';
  return node.fate === 'fail' ? 'failed' : 'running';
}

/**
 * Machines that are records: a launch writes one, readiness is computed from the launch time
 * and the boot delay drawn for it (no timer anywhere), a terminate marks it terminated. Same
 * rules as EC2: the client token makes a launch idempotent, even after the terminate; deletes
 * of what is gone are done; terminateDeployment finds what the deployment holds.
 */
export class SimulatedNodeProvider extends NodeProvider {
  private readonly sweep: NodeJS.Timeout;

  constructor(
    private readonly state: SimulatedState,
    private readonly gate: FaultGate,
    private readonly settings: SimulatedNodeSettings,
  ) {
    super();
    this.sweep = setInterval(() => void this.forgetOldTombstones().catch(() => undefined), Math.max(1_000, settings.tombstoneRetentionMs / 4));
    this.sweep.unref();
  }

  override async launchNode(request: NodeRequest, signal?: AbortSignal): Promise<LaunchedNode> {
    await this.gate.before('launchNode', signal);
    const instanceId = simulatedInstanceIdFor(request.clientToken);
    // Not mirrored yet is no proof of absence: the create below is the check, atomic in the bucket.
    const existing = this.state.node(instanceId);
    if (existing) return { instanceId, nodeName: existing.nodeName };
    const { capacity } = this.settings;
    if (capacity !== undefined && this.state.liveNodeCount >= capacity) {
      // A retry of a launch that got its machine is no new launch, even when all are in use.
      const launched = await this.state.findNode(instanceId);
      if (launched) return { instanceId, nodeName: launched.value.nodeName };
      throw new ProviderError('InsufficientInstanceCapacity', `all ${capacity} simulated machines are in use; node ${request.role}-${request.index} of ${request.deploymentId} must wait`, true);
    }
    const { seed, faults } = this.settings;
    const fate = rollFault(faults, 'boot', seed, `boot:${request.clientToken}`);
    const node: SimulatedNode = {
      instanceId,
      nodeName: simulatedNodeNameFor(request.deploymentId, request.role, request.index),
      deploymentId: request.deploymentId,
      owner: request.owner,
      role: request.role,
      index: request.index,
      clientToken: request.clientToken,
      instanceType: request.instanceType,
      launchedAtMs: this.settings.clock(),
      bootMs: sampleDelay(this.settings.bootDelay, seed, `boot:${request.clientToken}`) + (fate?.mode === 'slow' ? (fate.delayMs ?? 0) : 0),
      fate: fate?.mode === 'fail' ? 'fail' : fate?.mode === 'hang' ? 'hang' : 'ok',
    };
    const winner = await this.state.createNode(node);
    return { instanceId, nodeName: winner.nodeName };
  }

  override async checkNodes(deploymentId: string, nodes: readonly LaunchedNode[], signal?: AbortSignal): Promise<ReadinessCheck> {
    await this.gate.before('checkNodes', signal);
    return this.judge(deploymentId, nodes);
  }

  /** From the mirror, one pass; only a node the mirror does not know yet costs a read of the bucket. */
  override async checkNodesBatch(requests: readonly NodeCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    await this.gate.before('checkNodes', signal);
    const answers: ReadinessByDeployment = new Map();
    await Promise.all(requests.map(async (r) => answers.set(r.deploymentId, await this.judge(r.deploymentId, r.nodes))));
    return answers;
  }

  private async judge(deploymentId: string, nodes: readonly LaunchedNode[]): Promise<ReadinessCheck> {
    const now = this.settings.clock();
    const booting: string[] = [];
    for (const launched of nodes) {
      const node = this.state.node(launched.instanceId) ?? (await this.state.findNode(launched.instanceId))?.value;
      if (!node || node.deploymentId !== deploymentId) {
        const message = `${launched.instanceId} (${launched.nodeName}) is not a simulated machine of ${deploymentId}`;
        return { state: 'failed', error: { code: 'InstanceNotFound', message, transient: false } };
      }
      switch (nodeCondition(node, now)) {
        case 'terminated':
          return { state: 'failed', error: { code: 'InstanceNotRunning', message: `${node.instanceId} is terminated`, transient: false } };
        case 'failed':
          return { state: 'failed', error: { code: 'InstanceStatusCheckFailed', message: `${node.instanceId} failed its status checks (simulated)`, transient: false } };
        case 'pending':
          booting.push(node.fate === 'hang' ? `${node.nodeName} booting (it never will: simulated hang)` : `${node.nodeName} ready in ${node.launchedAtMs + node.bootMs - now} ms`);
          break;
        case 'running':
          break;
      }
    }
    if (booting.length === 0) return { state: 'ready' };
    const detail = `booting: ${booting.join(', ')}`;
    return { state: 'pending', detail, reason: { code: 'InstanceBooting', message: detail } };
  }

  override async terminateInstances(_deploymentId: string, instanceIds: readonly string[], signal?: AbortSignal): Promise<void> {
    await this.gate.before('terminateInstances', signal);
    const at = this.settings.clock();
    await Promise.all(
      [...new Set(instanceIds)].map((id) => this.state.updateNode(id, (node) => (node.terminatedAtMs === undefined ? { ...node, terminatedAtMs: at } : null))),
    );
  }

  override async terminateDeployment(deploymentId: string, signal?: AbortSignal): Promise<string[]> {
    await this.gate.before('terminateDeployment', signal);
    await this.state.sync();
    const ids = this.state
      .nodesOf(deploymentId)
      .filter((n) => n.terminatedAtMs === undefined)
      .map((n) => n.instanceId);
    const at = this.settings.clock();
    await Promise.all(ids.map((id) => this.state.updateNode(id, (node) => (node.terminatedAtMs === undefined ? { ...node, terminatedAtMs: at } : null))));
    return ids;
  }

  override async listManagedInstances(signal?: AbortSignal): Promise<ManagedInstance[]> {
    await this.gate.before('listManagedInstances', signal);
    await this.state.sync();
    const now = this.settings.clock();
    return this.state
      .allNodes()
      .filter((node) => node.terminatedAtMs === undefined)
      .map((node) => ({
        instanceId: node.instanceId,
        deploymentId: node.deploymentId,
        // A machine that failed its checks still runs, and costs, until it is terminated.
        state: nodeCondition(node, now) === 'pending' ? 'pending' : 'running',
        launchedAt: new Date(node.launchedAtMs).toISOString(),
        clientToken: node.clientToken,
      }));
  }

  private async forgetOldTombstones(): Promise<void> {
    const before = this.settings.clock() - this.settings.tombstoneRetentionMs;
    for (const node of this.state.allNodes()) {
      if (node.terminatedAtMs === undefined || node.terminatedAtMs > before) continue;
      const held = await this.state.findNode(node.instanceId);
      if (held?.value.terminatedAtMs !== undefined) await this.state.removeNode(node.instanceId, held.revision);
    }
  }

  close(): void {
    clearInterval(this.sweep);
  }
}
