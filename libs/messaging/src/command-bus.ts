import { jetstream, jetstreamManager, type JetStreamClient, type JetStreamManager } from '@nats-io/jetstream';
import { headers, type NatsConnection } from '@nats-io/transport-node';
import { commandMetrics, currentContext, formatTraceparent } from '@simdeploy/telemetry';
import { isCommandKind, type CommandKind, type DeploymentCommandMessage } from './contracts';
import {
  commandSubject,
  ensureCommandTopology,
  resolveTopology,
  type CommandTopology,
  type CommandTopologyOptions,
} from './topology';

export interface SendOptions {
  /**
   * Deduplication key (Nats-Msg-Id): the same id sent again within the stream's
   * duplicate window (2 min) is stored once. Default `${deploymentId}:${kind}:${issuedAt}`.
   */
  messageId?: string;
}

/** The sending side of the command queue. Inject it by this class. */
export abstract class CommandBus {
  abstract send(msg: DeploymentCommandMessage, options?: SendOptions): Promise<void>;
  /** Whether a command of this kind for this deployment is queued or being handled (not yet acked). */
  abstract hasPending(kind: CommandKind, deploymentId: string): Promise<boolean>;
}

export const defaultMessageId = (msg: DeploymentCommandMessage): string =>
  `${msg.deploymentId}:${msg.kind}:${msg.issuedAt}`;

/** The header a command's trace context travels in, read back by the command server. */
export const TRACEPARENT_HEADER = 'traceparent';

/** The current work's trace, as NATS headers, so the handler of the command continues it. */
function traceHeaders(): { headers?: ReturnType<typeof headers> } {
  const trace = currentContext().trace;
  if (!trace) return {};
  const h = headers();
  h.set(TRACEPARENT_HEADER, formatTraceparent(trace));
  return { headers: h };
}

export class JetStreamCommandBus extends CommandBus {
  private readonly js: JetStreamClient;
  private readonly nc: NatsConnection;
  private readonly topology: CommandTopology;
  private jsm?: Promise<JetStreamManager>;

  constructor(nc: NatsConnection, options: CommandTopologyOptions = {}) {
    super();
    this.js = jetstream(nc);
    this.nc = nc;
    this.topology = resolveTopology(options);
  }

  static ensureTopology(nc: NatsConnection, options: CommandTopologyOptions = {}): Promise<CommandTopology> {
    return ensureCommandTopology(nc, options);
  }

  async send(msg: DeploymentCommandMessage, options: SendOptions = {}): Promise<void> {
    if (!isCommandKind(msg.kind)) throw new TypeError(`unknown command kind: ${String(msg.kind)}`);
    const ack = await this.js.publish(commandSubject(this.topology, msg.kind, msg.deploymentId), JSON.stringify(msg), {
      msgID: options.messageId ?? defaultMessageId(msg),
      ...traceHeaders(),
    });
    // A duplicate was stored once already: counting it again would count one command twice.
    if (!ack.duplicate) commandMetrics.sent.inc({ kind: msg.kind, reason: msg.reason ?? 'unknown' });
  }

  async hasPending(kind: CommandKind, deploymentId: string): Promise<boolean> {
    this.jsm ??= jetstreamManager(this.nc);
    const last = await (await this.jsm).direct.getMessage(this.topology.streamName, {
      last_by_subj: commandSubject(this.topology, kind, deploymentId),
    });
    return last !== null;
  }
}
