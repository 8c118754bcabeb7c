import { jetstream, type JetStreamClient } from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { isCommandKind, type DeploymentCommandMessage } from './contracts';
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
}

export const defaultMessageId = (msg: DeploymentCommandMessage): string =>
  `${msg.deploymentId}:${msg.kind}:${msg.issuedAt}`;

export class JetStreamCommandBus extends CommandBus {
  private readonly js: JetStreamClient;
  private readonly topology: CommandTopology;

  constructor(nc: NatsConnection, options: CommandTopologyOptions = {}) {
    super();
    this.js = jetstream(nc);
    this.topology = resolveTopology(options);
  }

  static ensureTopology(nc: NatsConnection, options: CommandTopologyOptions = {}): Promise<CommandTopology> {
    return ensureCommandTopology(nc, options);
  }

  async send(msg: DeploymentCommandMessage, options: SendOptions = {}): Promise<void> {
    if (!isCommandKind(msg.kind)) throw new TypeError(`unknown command kind: ${String(msg.kind)}`);
    await this.js.publish(commandSubject(this.topology, msg.kind), JSON.stringify(msg), {
      msgID: options.messageId ?? defaultMessageId(msg),
    });
  }
}
