import { jetstreamManager, type JetStreamManager } from '@nats-io/jetstream';
import { Kvm, type KV, type KvEntry } from '@nats-io/kv';
import type { NatsConnection } from '@nats-io/transport-node';
import type { NodeRole, PodRole } from '@simdeploy/domain';

/** A simulated machine, as recorded in the bucket under `node.<instanceId>`. */
export interface SimulatedNode {
  instanceId: string;
  nodeName: string;
  deploymentId: string;
  owner: string;
  role: NodeRole;
  index: number;
  clientToken: string;
  instanceType: string;
  launchedAtMs: number;
  /** Running (status checks passed) from launchedAtMs + bootMs, unless its fate says otherwise. */
  bootMs: number;
  fate: 'ok' | 'fail' | 'hang';
  /** Kept as a tombstone for a while, so a launch retried with the same token finds it, as on EC2. */
  terminatedAtMs?: number;
}

export interface SimulatedPod {
  name: string;
  role: PodRole;
  readyMs: number;
  fate: 'ok' | 'fail' | 'hang';
}

/** A deployment's simulated workload, under `workload.<deploymentId>`. */
export interface SimulatedWorkload {
  deploymentId: string;
  owner: string;
  createdAtMs: number;
  pods: SimulatedPod[];
  services: readonly string[];
  networkPolicies: readonly string[];
}

interface Held<T> {
  value: T | null;
  revision: number;
}

const NODE_PREFIX = 'node.';
const WORKLOAD_PREFIX = 'workload.';
const SYNC_TIMEOUT_MS = 5_000;

export const nodeKey = (instanceId: string): string => `${NODE_PREFIX}${instanceId}`;
export const workloadKey = (deploymentId: string): string => `${WORKLOAD_PREFIX}${deploymentId}`;

const isWrongLastSequence = (error: unknown): boolean => /wrong last sequence/i.test((error as Error).message ?? '');

/**
 * The simulated provider's records, shared by every process (launcher, terminator, error
 * handler) through a JetStream key-value bucket, with a mirror in this process's memory kept
 * current by a watch. Checks read the mirror, so a batch of 10,000 deployments costs no call
 * to the server; writes go to the bucket with compare-and-set (create for "only if absent",
 * update with the revision read), so two processes never both win, and are applied to the
 * mirror as soon as they are acknowledged, so a process reads its own writes at once.
 * What another process wrote a moment ago may not be mirrored yet: callers that must see it
 * (a terminate finding a deployment's instances, the sweep) wait for `sync()`, and a record
 * missing from the mirror is looked up in the bucket before it is called absent.
 */
export class SimulatedState {
  private readonly nodes = new Map<string, Held<SimulatedNode>>();
  private readonly nodesByDeployment = new Map<string, Set<string>>();
  private readonly nodesByName = new Map<string, string>();
  private readonly workloads = new Map<string, Held<SimulatedWorkload>>();
  private liveNodes = 0;
  private seenSequence = 0;
  private readonly waiters: { sequence: number; resolve: () => void }[] = [];
  private stopWatch?: () => void;

  private constructor(
    private readonly kv: KV,
    private readonly jsm: JetStreamManager,
    private readonly stream: string,
  ) {}

  static async open(nc: NatsConnection, bucket: string): Promise<SimulatedState> {
    // history 1: only the current record matters; file storage: records survive a server restart.
    const kv = await new Kvm(nc).create(bucket, { history: 1 });
    const jsm = await jetstreamManager(nc);
    const state = new SimulatedState(kv, jsm, `KV_${bucket}`);
    await state.watch();
    await state.sync();
    return state;
  }

  private async watch(): Promise<void> {
    const entries = await this.kv.watch({ key: '>' });
    this.stopWatch = () => entries.stop();
    void (async () => {
      for await (const entry of entries) this.receive(entry);
    })();
  }

  private receive(entry: KvEntry): void {
    const value = entry.operation === 'PUT' ? (JSON.parse(entry.string()) as unknown) : null;
    if (entry.key.startsWith(NODE_PREFIX)) this.holdNode(entry.key.slice(NODE_PREFIX.length), value as SimulatedNode | null, entry.revision);
    else if (entry.key.startsWith(WORKLOAD_PREFIX)) this.holdWorkload(entry.key.slice(WORKLOAD_PREFIX.length), value as SimulatedWorkload | null, entry.revision);
    this.seenSequence = Math.max(this.seenSequence, entry.revision);
    for (let i = this.waiters.length - 1; i >= 0; i--) {
      const waiter = this.waiters[i] as (typeof this.waiters)[number];
      if (waiter.sequence <= this.seenSequence) {
        this.waiters.splice(i, 1);
        waiter.resolve();
      }
    }
  }

  /** Applies a record unless the mirror already holds a newer revision of it (the watch may trail our own writes). */
  private holdNode(instanceId: string, value: SimulatedNode | null, revision: number): void {
    const held = this.nodes.get(instanceId);
    if (held && held.revision >= revision) return;
    const previous = held?.value;
    const isLive = (node: SimulatedNode | null | undefined) => (node && node.terminatedAtMs === undefined ? 1 : 0);
    this.liveNodes += isLive(value) - isLive(previous);
    if (value) {
      this.nodes.set(instanceId, { value, revision });
      let ids = this.nodesByDeployment.get(value.deploymentId);
      if (!ids) this.nodesByDeployment.set(value.deploymentId, (ids = new Set()));
      ids.add(instanceId);
      this.nodesByName.set(value.nodeName, instanceId);
    } else {
      this.nodes.delete(instanceId);
      if (previous) {
        const ids = this.nodesByDeployment.get(previous.deploymentId);
        ids?.delete(instanceId);
        if (ids?.size === 0) this.nodesByDeployment.delete(previous.deploymentId);
        if (this.nodesByName.get(previous.nodeName) === instanceId) this.nodesByName.delete(previous.nodeName);
      }
    }
  }

  private holdWorkload(deploymentId: string, value: SimulatedWorkload | null, revision: number): void {
    const held = this.workloads.get(deploymentId);
    if (held && held.revision >= revision) return;
    // A deletion is kept with its revision, so an older record the watch brings late stays deleted.
    this.workloads.set(deploymentId, { value, revision });
    if (!value && held?.value === undefined) this.workloads.delete(deploymentId);
  }

  /** Until the mirror holds everything the bucket held when this was called. */
  async sync(): Promise<void> {
    const info = await this.jsm.streams.info(this.stream);
    const sequence = info.state.last_seq;
    if (sequence <= this.seenSequence) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`the simulated provider's bucket watch is ${sequence - this.seenSequence} records behind`)), SYNC_TIMEOUT_MS);
      this.waiters.push({
        sequence,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
    });
  }

  node(instanceId: string): SimulatedNode | undefined {
    return this.nodes.get(instanceId)?.value ?? undefined;
  }

  /** From the mirror, else from the bucket (another process may have written it a moment ago). */
  async findNode(instanceId: string, fresh = false): Promise<{ value: SimulatedNode; revision: number } | undefined> {
    const held = this.nodes.get(instanceId);
    if (held?.value && !fresh) return { value: held.value, revision: held.revision };
    const entry = await this.kv.get(nodeKey(instanceId));
    if (!entry || entry.operation !== 'PUT') return undefined;
    const value = JSON.parse(entry.string()) as SimulatedNode;
    this.holdNode(instanceId, value, entry.revision);
    return { value, revision: entry.revision };
  }

  nodeNamed(nodeName: string): SimulatedNode | undefined {
    const id = this.nodesByName.get(nodeName);
    return id === undefined ? undefined : this.node(id);
  }

  nodesOf(deploymentId: string): SimulatedNode[] {
    return [...(this.nodesByDeployment.get(deploymentId) ?? [])].flatMap((id) => this.node(id) ?? []);
  }

  /** Nodes not terminated, counted as records come and go. */
  get liveNodeCount(): number {
    return this.liveNodes;
  }

  allNodes(): SimulatedNode[] {
    return [...this.nodes.values()].flatMap((held) => held.value ?? []);
  }

  /** Creates the record unless one exists; answers the one that won. */
  async createNode(node: SimulatedNode): Promise<SimulatedNode> {
    try {
      const revision = await this.kv.create(nodeKey(node.instanceId), JSON.stringify(node));
      this.holdNode(node.instanceId, node, revision);
      return node;
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
      const winner = await this.findNode(node.instanceId);
      if (!winner) throw error;
      return winner.value;
    }
  }

  /** Compare-and-set: applies `change` to the current record until no other writer got in between. */
  async updateNode(instanceId: string, change: (node: SimulatedNode) => SimulatedNode | null): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      // After a conflict, the bucket's copy: someone else wrote it since the mirror's.
      const current = await this.findNode(instanceId, attempt > 0);
      if (!current) return;
      const next = change(current.value);
      if (!next) return;
      try {
        const revision = await this.kv.update(nodeKey(instanceId), JSON.stringify(next), current.revision);
        this.holdNode(instanceId, next, revision);
        return;
      } catch (error) {
        if (!isWrongLastSequence(error) || attempt >= 10) throw error;
      }
    }
  }

  /** Removes a node record, only if it is still the revision judged removable. */
  async removeNode(instanceId: string, revision: number): Promise<void> {
    try {
      await this.kv.delete(nodeKey(instanceId), { previousSeq: revision });
      const held = this.nodes.get(instanceId);
      if (held?.revision === revision) this.holdNode(instanceId, null, revision + 1);
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
    }
  }

  workload(deploymentId: string): SimulatedWorkload | undefined {
    return this.workloads.get(deploymentId)?.value ?? undefined;
  }

  async findWorkload(deploymentId: string): Promise<SimulatedWorkload | undefined> {
    const held = this.workloads.get(deploymentId);
    if (held) return held.value ?? undefined;
    const entry = await this.kv.get(workloadKey(deploymentId));
    if (!entry || entry.operation !== 'PUT') return undefined;
    const value = JSON.parse(entry.string()) as SimulatedWorkload;
    this.holdWorkload(deploymentId, value, entry.revision);
    return value;
  }

  allWorkloads(): SimulatedWorkload[] {
    return [...this.workloads.values()].flatMap((held) => held.value ?? []);
  }

  /** Creates the workload unless one exists (a retry, or another process, was first). */
  async createWorkload(workload: SimulatedWorkload): Promise<void> {
    const key = workloadKey(workload.deploymentId);
    try {
      const revision = await this.kv.create(key, JSON.stringify(workload));
      this.holdWorkload(workload.deploymentId, workload, revision);
    } catch (error) {
      if (!isWrongLastSequence(error)) throw error;
      // kv.create also succeeds over a deletion marker, so a conflict means a live record exists.
    }
  }

  async deleteWorkload(deploymentId: string): Promise<void> {
    const held = this.workloads.get(deploymentId);
    await this.kv.delete(workloadKey(deploymentId));
    // The marker's revision is not returned; any record the watch still brings is older than it.
    this.workloads.set(deploymentId, { value: null, revision: Math.max(held?.revision ?? 0, this.seenSequence) + 1 });
  }

  /** How many records this process mirrors, for the benchmark's memory figures. */
  get size(): { nodes: number; workloads: number } {
    return { nodes: this.nodes.size, workloads: this.allWorkloads().length };
  }

  close(): void {
    this.stopWatch?.();
    for (const waiter of this.waiters.splice(0)) waiter.resolve();
  }
}
