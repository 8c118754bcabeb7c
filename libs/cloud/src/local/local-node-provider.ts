import { createHash } from 'node:crypto';
import { promises as fs } from 'node:fs';
import { join } from 'node:path';
import type { NodeRole } from '@simdeploy/domain';
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
import { createFileExclusive, DEFAULT_LOCAL_STATE_DIR, listEntries, readJson } from './state-files';

export interface LocalNodeProviderOptions {
  /** How many nodes this machine holds at once. Default 1000. */
  slots?: number;
  /** How long a node stays pending after launch, as a machine would while booting. Default 0. */
  bootDelayMs?: number;
  /** Milliseconds since the epoch. Default Date.now. */
  clock?: () => number;
  /** Shared by every process of the local system (launcher, terminator...). */
  stateDir?: string;
}

interface SlotRecord {
  instanceId: string;
  nodeName: string;
  deploymentId: string;
  owner?: string;
  role?: NodeRole;
  index?: number;
  clientToken?: string;
  launchedAtMs: number;
}

const INSTANCE_ID_PATTERN = /^i-local-[0-9a-f]{17}$/;
/** Slot records read, kept: a slot never changes once written. Bounded, for a service that runs for months. */
const MAX_CACHED_SLOTS = 50_000;

/** Derived from the client token alone, so a retry in this or any later process finds the same slot. */
export const localInstanceIdFor = (clientToken: string): string =>
  `i-local-${createHash('sha256').update(clientToken).digest('hex').slice(0, 17)}`;

export const localNodeNameFor = (deploymentId: string, role: NodeRole, index: number): string =>
  `local-${deploymentId}-${role}-${index}`;

/**
 * Nodes are slots on this machine, one file per slot under <stateDir>/nodes, so separate
 * processes see the same slots. A slot file is created exclusively under the deterministic
 * instance id, which makes launchNode idempotent across processes. Capacity is the count of slot
 * files; launches racing for the very last slots may overshoot `slots` by the number racing.
 */
export class LocalNodeProvider extends NodeProvider {
  private readonly slots: number;
  private readonly bootDelayMs: number;
  private readonly clock: () => number;
  readonly stateDir: string;
  private readonly slotCache = new Map<string, SlotRecord>();

  constructor(options: LocalNodeProviderOptions = {}) {
    super();
    this.slots = options.slots ?? 1000;
    this.bootDelayMs = options.bootDelayMs ?? 0;
    this.clock = options.clock ?? Date.now;
    this.stateDir = options.stateDir ?? DEFAULT_LOCAL_STATE_DIR;
  }

  private get nodesDir(): string {
    return join(this.stateDir, 'nodes');
  }

  private slotFile(instanceId: string): string {
    return join(this.nodesDir, `${instanceId}.json`);
  }

  private readSlot(instanceId: string): Promise<SlotRecord | undefined> {
    return readJson<SlotRecord>(this.slotFile(instanceId));
  }

  /** For readiness checks, which ask about the same slots every poll: read once, then from memory. */
  private async cachedSlot(instanceId: string): Promise<SlotRecord | undefined> {
    const cached = this.slotCache.get(instanceId);
    if (cached) return cached;
    const record = await this.readSlot(instanceId);
    if (record) {
      if (this.slotCache.size >= MAX_CACHED_SLOTS) this.slotCache.clear();
      this.slotCache.set(instanceId, record);
    }
    return record;
  }

  /**
   * The slots whose files exist now. Names come from the directory each time (another process may
   * have launched or terminated since); a record is read once, since it never changes: a stop reads
   * the directory, not every slot of the machine (1,000 stops over 2,000 slots read 2 million files).
   */
  private async allSlots(): Promise<SlotRecord[]> {
    const records = await Promise.all((await listEntries(this.nodesDir, '.json')).map((id) => this.cachedSlot(id)));
    return records.filter((record): record is SlotRecord => record !== undefined);
  }

  override async launchNode(request: NodeRequest): Promise<LaunchedNode> {
    const instanceId = localInstanceIdFor(request.clientToken);
    const existing = await this.readSlot(instanceId);
    if (existing) return { instanceId, nodeName: existing.nodeName };
    const used = (await listEntries(this.nodesDir, '.json')).length;
    if (used >= this.slots) {
      throw new ProviderError(
        'InsufficientInstanceCapacity',
        `all ${this.slots} local slots are in use; node ${request.role}-${request.index} of ${request.deploymentId} must wait`,
        true,
      );
    }
    const record: SlotRecord = {
      instanceId,
      nodeName: localNodeNameFor(request.deploymentId, request.role, request.index),
      deploymentId: request.deploymentId,
      owner: request.owner,
      role: request.role,
      index: request.index,
      clientToken: request.clientToken,
      launchedAtMs: this.clock(),
    };
    await fs.mkdir(this.nodesDir, { recursive: true });
    if (await createFileExclusive(this.slotFile(instanceId), JSON.stringify(record))) return { instanceId, nodeName: record.nodeName };
    // Another process launched the same token a moment ago.
    const winner = await this.readSlot(instanceId);
    return { instanceId, nodeName: winner?.nodeName ?? record.nodeName };
  }

  /**
   * A check never creates anything: a node whose slot file is gone (terminated meanwhile, or the
   * state dir wiped) is a failed node, which the launch rolls back rather than adopt again.
   * A slot read once is answered from memory after that: readiness only matters during a launch.
   */
  override async checkNodes(_deploymentId: string, nodes: readonly LaunchedNode[]): Promise<ReadinessCheck> {
    const now = this.clock();
    const booting: string[] = [];
    for (const node of nodes) {
      const record = await this.cachedSlot(node.instanceId);
      if (!record) {
        const message = INSTANCE_ID_PATTERN.test(node.instanceId)
          ? `local slot ${node.instanceId} (${node.nodeName}) is gone`
          : `${node.instanceId} (${node.nodeName}) is not a local slot`;
        return { state: 'failed', error: { code: 'InstanceNotFound', message, transient: false } };
      }
      const remainingMs = record.launchedAtMs + this.bootDelayMs - now;
      if (remainingMs > 0) booting.push(`${record.nodeName} ready in ${remainingMs} ms`);
    }
    if (booting.length === 0) return { state: 'ready' };
    const detail = `booting: ${booting.join(', ')}`;
    return { state: 'pending', detail, reason: { code: 'InstanceBooting', message: detail } };
  }

  /** One pass over the slots of every deployment asked about, from memory once each slot has been read. */
  override async checkNodesBatch(requests: readonly NodeCheckRequest[]): Promise<ReadinessByDeployment> {
    const answers: ReadinessByDeployment = new Map();
    await Promise.all(
      requests.map(async (r) => {
        try {
          answers.set(r.deploymentId, await this.checkNodes(r.deploymentId, r.nodes));
        } catch {
          // Left out: asked again on the next round.
        }
      }),
    );
    return answers;
  }

  override async terminateInstances(_deploymentId: string, instanceIds: readonly string[]): Promise<void> {
    instanceIds.forEach((id) => this.slotCache.delete(id));
    await Promise.all(instanceIds.map((id) => fs.rm(this.slotFile(id), { force: true })));
  }

  override async terminateDeployment(deploymentId: string): Promise<string[]> {
    const ids = (await this.allSlots()).filter((slot) => slot.deploymentId === deploymentId).map((slot) => slot.instanceId);
    await this.terminateInstances(deploymentId, ids);
    return ids;
  }

  override async listManagedInstances(): Promise<ManagedInstance[]> {
    const now = this.clock();
    return (await this.allSlots()).map((slot) => ({
      instanceId: slot.instanceId,
      deploymentId: slot.deploymentId,
      state: slot.launchedAtMs + this.bootDelayMs > now ? 'pending' : 'running',
      launchedAt: new Date(slot.launchedAtMs).toISOString(),
      ...(slot.clientToken === undefined ? {} : { clientToken: slot.clientToken }),
    }));
  }
}
