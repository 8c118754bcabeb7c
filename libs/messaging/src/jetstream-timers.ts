import { Logger } from '@nestjs/common';
import {
  DeliverPolicy,
  DiscardPolicy,
  RetentionPolicy,
  StorageType,
  jetstream,
  jetstreamManager,
  type ConsumerMessages,
  type JetStreamClient,
  type JetStreamManager,
} from '@nats-io/jetstream';
import type { NatsConnection } from '@nats-io/transport-node';
import { timerMetrics } from '@simdeploy/telemetry';
import { isCommandKind, type CommandKind } from './contracts';
import { CommandScheduler, TimerWheel, type Timer } from './timers';
import { resolveTopology, type CommandTopologyOptions } from './topology';

export interface TimerTopology {
  /** Default: the command stream's name with `_TIMERS`. */
  streamName: string;
  /** Timers live on `<subjectPrefix>.<kind>.<deploymentId>`. Default: the command prefix with `.timer`. */
  subjectPrefix: string;
}

export const resolveTimerTopology = (options: CommandTopologyOptions = {}): TimerTopology => {
  const commands = resolveTopology(options);
  return { streamName: `${commands.streamName}_TIMERS`, subjectPrefix: `${commands.subjectPrefix}.timer` };
};

const RELOAD_DELAY_MS = 500;

const timerSubject = (topology: TimerTopology, kind: CommandKind, deploymentId: string): string => {
  if (!/^[A-Za-z0-9_-]+$/.test(deploymentId)) throw new TypeError(`deployment id "${deploymentId}" cannot be a subject token`);
  return `${topology.subjectPrefix}.${kind}.${deploymentId}`;
};

/** Replaces a cancelled timer on its subject; the leader deletes it once it has seen it. */
interface Cancellation {
  deploymentId: string;
  kind: CommandKind;
  cancelled: true;
}

const isCancellation = (value: unknown): value is Cancellation =>
  typeof value === 'object' && value !== null && (value as Cancellation).cancelled === true && typeof (value as Cancellation).deploymentId === 'string';

const isTimer = (value: unknown): value is Timer =>
  typeof value === 'object' &&
  value !== null &&
  typeof (value as Timer).deploymentId === 'string' &&
  isCommandKind((value as Timer).kind) &&
  typeof (value as Timer).revision === 'string' &&
  !Number.isNaN(Date.parse((value as Timer).dueAt));

/**
 * Timers on JetStream (nats-server 2.9 has no scheduled messages): one stream, a subject per
 * kind and deployment keeping only its last message, so the stream holds exactly the timers
 * that wait. The replica that fires a kind's timers (one at a time, under a lease) loads them
 * with an ordered consumer on the last message per subject, keeps them in a TimerWheel, and
 * deletes each once its command is sent. Waiting costs one stored message, no redelivery.
 */
export class JetStreamCommandScheduler extends CommandScheduler {
  private readonly js: JetStreamClient;
  private readonly logger = new Logger(JetStreamCommandScheduler.name);

  private constructor(
    private readonly nc: NatsConnection,
    private readonly jsm: JetStreamManager,
    readonly topology: TimerTopology,
  ) {
    super();
    this.js = jetstream(nc);
  }

  /** Creates the timer stream if needed (idempotent, safe for replicas racing at start-up). */
  static async create(nc: NatsConnection, options: CommandTopologyOptions = {}): Promise<JetStreamCommandScheduler> {
    const topology = resolveTimerTopology(options);
    const jsm = await jetstreamManager(nc);
    const config = {
      name: topology.streamName,
      subjects: [`${topology.subjectPrefix}.>`],
      retention: RetentionPolicy.Limits,
      storage: StorageType.File,
      max_msgs_per_subject: 1,
      discard: DiscardPolicy.Old,
      allow_direct: true,
    };
    try {
      await jsm.streams.add(config);
    } catch {
      const { name, ...changes } = config;
      await jsm.streams.update(name, changes);
    }
    return new JetStreamCommandScheduler(nc, jsm, topology);
  }

  async schedule(timer: Timer): Promise<void> {
    await this.js.publish(timerSubject(this.topology, timer.kind, timer.deploymentId), JSON.stringify(timer), {
      msgID: `${timer.deploymentId}:${timer.kind}:${timer.revision}:wait:${timer.dueAt}`,
    });
    timerMetrics.scheduled.inc({ kind: timer.kind });
  }

  async timerOf(kind: CommandKind, deploymentId: string): Promise<Timer | null> {
    const message = await this.jsm.direct.getMessage(this.topology.streamName, {
      last_by_subj: timerSubject(this.topology, kind, deploymentId),
    });
    if (!message) return null;
    const timer: unknown = message.json();
    return isTimer(timer) ? timer : null;
  }

  async cancel(kind: CommandKind, deploymentId: string): Promise<void> {
    const cancellation: Cancellation = { deploymentId, kind, cancelled: true };
    await this.js.publish(timerSubject(this.topology, kind, deploymentId), JSON.stringify(cancellation));
  }

  /**
   * Fires this kind's timers for as long as the returned handle is not stopped: `fire` sends
   * the command, then the timer is deleted. Call it only on the replica that leads the kind.
   */
  run(kind: CommandKind, fire: (timer: Timer) => Promise<void>): ActiveTimers {
    const wheel = new TimerWheel<number>(async (timer, seq) => {
      await fire(timer);
      // A newer timer on the subject replaced this one already if the delete finds nothing.
      await this.jsm.streams.deleteMessage(this.topology.streamName, seq, false).catch(() => undefined);
    });
    const forget = (seq: number) => this.jsm.streams.deleteMessage(this.topology.streamName, seq, false).then(
      () => undefined,
      () => undefined,
    );
    return new ActiveTimers(this.js, this.nc, this.topology, kind, wheel, forget, this.logger);
  }
}

/** The timers of one kind, followed live and fired on time, while this replica leads the kind. */
export class ActiveTimers {
  private stopped = false;
  private messages?: ConsumerMessages;
  private statuses?: { stop?: () => void };
  private readonly loop: Promise<void>;
  private loaded!: () => void;
  /** Resolves once the timers stored when this started are in memory. */
  readonly ready = new Promise<void>((resolve) => (this.loaded = resolve));

  constructor(
    private readonly js: JetStreamClient,
    private readonly nc: NatsConnection,
    private readonly topology: TimerTopology,
    private readonly kind: CommandKind,
    readonly wheel: TimerWheel<number>,
    private readonly forget: (seq: number) => Promise<void>,
    private readonly logger: Logger,
  ) {
    this.loop = this.follow();
    this.watchReconnects();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    this.statuses?.stop?.();
    this.messages?.stop();
    await this.loop;
    await this.wheel.stop();
  }

  private async follow(): Promise<void> {
    while (!this.stopped) {
      try {
        const consumer = await this.js.consumers.get(this.topology.streamName, {
          filter_subjects: `${this.topology.subjectPrefix}.${this.kind}.>`,
          deliver_policy: DeliverPolicy.LastPerSubject,
        });
        const messages = await consumer.consume({ max_messages: 256 });
        this.messages = messages;
        if (this.stopped) messages.stop();
        const info = await consumer.info(true).catch(() => null);
        if (info === null || info.num_pending === 0) this.loaded();
        for await (const m of messages) {
          let timer: unknown;
          try {
            timer = m.json();
          } catch {
            timer = null;
          }
          if (isTimer(timer)) this.wheel.upsert(timer, m.seq);
          else if (isCancellation(timer)) {
            this.wheel.remove(timer.deploymentId);
            void this.forget(m.seq);
          }
          if (m.info.pending === 0) this.loaded();
        }
      } catch (error) {
        if (!this.stopped) this.logger.warn(`following ${this.kind} timers failed, reloading: ${error instanceof Error ? error.message : String(error)}`);
      }
      if (!this.stopped) await new Promise((resolve) => setTimeout(resolve, RELOAD_DELAY_MS));
    }
  }

  /** A reconnect may have lost the ordered consumer; reloading upserts every stored timer again. */
  private watchReconnects(): void {
    const status = this.nc.status();
    this.statuses = status as unknown as { stop?: () => void };
    void (async () => {
      for await (const s of status) {
        if (this.stopped) break;
        if (s.type === 'reconnect') this.messages?.stop();
      }
    })();
  }
}
