import { AckPolicy, DeliverPolicy, DiscardPolicy, RetentionPolicy, StorageType, jetstreamManager } from '@nats-io/jetstream';
import type { ConsumerConfig, JetStreamManager, StreamConfig } from '@nats-io/jetstream';
import { nanos, type NatsConnection } from '@nats-io/transport-node';
import { COMMAND_KINDS, type CommandKind } from './contracts';

/** Where commands live. Tests override the names to isolate themselves. */
export interface CommandTopologyOptions {
  /** Default `SIMDEPLOY_COMMANDS`. */
  streamName?: string;
  /** Commands go to `<subjectPrefix>.<kind>.<deploymentId>`. Default `simdeploy.cmd`. */
  subjectPrefix?: string;
  /** Durable consumer per kind. Default: the kind itself. */
  consumerNames?: Partial<Record<CommandKind, string>>;
  /** Unacked commands are redelivered after this long. Default 30 000 ms. */
  ackWaitMs?: number;
  /**
   * Cap on delivered-but-unacked commands per kind, across every replica,
   * including those waiting out a nak delay. Default 10 000.
   */
  maxAckPending?: number;
}

export interface CommandTopology {
  streamName: string;
  subjectPrefix: string;
  consumerNames: Record<CommandKind, string>;
  ackWaitMs: number;
  maxAckPending: number;
}

export const DEFAULT_STREAM_NAME = 'SIMDEPLOY_COMMANDS';
export const DEFAULT_SUBJECT_PREFIX = 'simdeploy.cmd';
const DUPLICATE_WINDOW_MS = 2 * 60_000;

export function resolveTopology(options: CommandTopologyOptions = {}): CommandTopology {
  const consumerNames = Object.fromEntries(
    COMMAND_KINDS.map((kind) => [kind, options.consumerNames?.[kind] ?? kind]),
  ) as Record<CommandKind, string>;
  return {
    streamName: options.streamName ?? DEFAULT_STREAM_NAME,
    subjectPrefix: options.subjectPrefix ?? DEFAULT_SUBJECT_PREFIX,
    consumerNames,
    ackWaitMs: options.ackWaitMs ?? 30_000,
    maxAckPending: options.maxAckPending ?? 10_000,
  };
}

/**
 * One subject per deployment and kind, so whether a deployment has a command queued or in
 * flight is a direct get of the last message on it (work-queue retention drops a message
 * only once it is acked).
 */
export function commandSubject(topology: Pick<CommandTopology, 'subjectPrefix'>, kind: CommandKind, deploymentId: string): string {
  // A dot or wildcard would put the command on another deployment's subject, or on none.
  if (!/^[A-Za-z0-9_-]+$/.test(deploymentId)) throw new TypeError(`deployment id "${deploymentId}" cannot be a subject token`);
  return `${topology.subjectPrefix}.${kind}.${deploymentId}`;
}

/** Every deployment's commands of one kind; the kinds' filters do not overlap, as a work queue requires. */
export const commandKindFilter = (topology: Pick<CommandTopology, 'subjectPrefix'>, kind: CommandKind): string =>
  `${topology.subjectPrefix}.${kind}.>`;

function streamConfig(topology: CommandTopology): Partial<StreamConfig> & { name: string } {
  return {
    name: topology.streamName,
    // One wildcard per known kind (none across kinds) makes a command of an unknown kind
    // fail at publish instead of sitting forever in a work queue nobody reads.
    subjects: COMMAND_KINDS.map((kind) => commandKindFilter(topology, kind)),
    retention: RetentionPolicy.Workqueue,
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    duplicate_window: nanos(DUPLICATE_WINDOW_MS),
    // For CommandBus.hasPending: a direct get of the last message on a deployment's subject.
    allow_direct: true,
  };
}

function consumerConfig(topology: CommandTopology, kind: CommandKind): Partial<ConsumerConfig> {
  return {
    durable_name: topology.consumerNames[kind],
    filter_subject: commandKindFilter(topology, kind),
    ack_policy: AckPolicy.Explicit,
    deliver_policy: DeliverPolicy.All,
    ack_wait: nanos(topology.ackWaitMs),
    // A command is retried until it is done; failures are the domain's business.
    max_deliver: -1,
    max_ack_pending: topology.maxAckPending,
  };
}

async function ensureStream(jsm: JetStreamManager, topology: CommandTopology): Promise<void> {
  const config = streamConfig(topology);
  try {
    // Identical config: the server answers with the existing stream, so replicas racing here all succeed.
    await jsm.streams.add(config);
  } catch {
    const { name, ...changes } = config;
    await jsm.streams.update(name, changes);
  }
}

async function ensureConsumer(jsm: JetStreamManager, topology: CommandTopology, kind: CommandKind): Promise<void> {
  const config = consumerConfig(topology, kind);
  try {
    await jsm.consumers.add(topology.streamName, config);
  } catch {
    const { ack_wait, max_deliver, max_ack_pending, filter_subject } = config;
    await jsm.consumers.update(topology.streamName, topology.consumerNames[kind], {
      // Moves a consumer made when commands were on `<prefix>.<kind>` to the per-deployment subjects.
      filter_subject,
      ack_wait,
      max_deliver,
      max_ack_pending,
    });
  }
}

/**
 * Creates or updates the command stream and one durable pull consumer per kind.
 * Idempotent, and safe when several replicas call it at once on start-up.
 */
export async function ensureCommandTopology(nc: NatsConnection, options: CommandTopologyOptions = {}): Promise<CommandTopology> {
  const topology = resolveTopology(options);
  const jsm = await jetstreamManager(nc);
  await ensureStream(jsm, topology);
  await Promise.all(COMMAND_KINDS.map((kind) => ensureConsumer(jsm, topology, kind)));
  return topology;
}
