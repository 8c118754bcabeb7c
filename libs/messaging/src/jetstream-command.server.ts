import { Logger } from '@nestjs/common';
import { Server, type CustomTransportStrategy } from '@nestjs/microservices';
import { jetstream, type Consumer, type ConsumerMessages, type JsMsg } from '@nats-io/jetstream';
import { connect, millis, type NatsConnection, type Status } from '@nats-io/transport-node';
import { lastValueFrom, type Observable } from 'rxjs';
import { cachedSource, commandMetrics, consumerGauges, inSpan, parseTraceparent, withContext, type WorkContext } from '@simdeploy/telemetry';
import { decideAck, failureBackoffMs, type AckDecision, type RetryBackoff } from './ack-policy';
import { TRACEPARENT_HEADER } from './command-bus';
import { isCommandKind, type CommandKind, type DeploymentCommandMessage } from './contracts';
import { JetStreamContext } from './jetstream-context';
import { SlotPool } from './slot-pool';
import { ensureCommandTopology, resolveTopology, type CommandTopology, type CommandTopologyOptions } from './topology';

export interface JetStreamCommandServerOptions extends CommandTopologyOptions {
  /** A connection the app owns; the server uses it and never drains or closes it. */
  connection?: NatsConnection;
  /** Used when no connection is given: the server connects itself and drains the connection on close. */
  natsUrl?: string;
  /** Handlers running at once in this process, all kinds together. Default 10. */
  poolSize?: number;
  /** How long one pull request waits on the server for commands. Default 10 000 ms (JetStream's minimum is 1 000). */
  fetchExpiresMs?: number;
  /** How long close() waits for running handlers. Default 10 000 ms. */
  shutdownTimeoutMs?: number;
  /** nak delays after a handler throws. */
  retryBackoff?: RetryBackoff;
  /** Create/update the stream and consumers on listen. Default true. */
  ensureTopology?: boolean;
}

export const JETSTREAM_COMMAND_TRANSPORT = Symbol('JETSTREAM_COMMANDS');

export type JetStreamCommandServerStatus = 'connected' | 'disconnected' | 'reconnecting';

/** `on(type, callback)` listens to the connection's status events (disconnect, reconnect, error...). */
type StatusEvents = Record<Status['type'], (status: Status) => void>;

/** Commands that reach a replica while it shuts down go back to the queue after this long. */
const SHED_DELAY_MS = 500;
const FETCH_FAILURE_PAUSE_MS = 1_000;
const BACKLOG_MAX_AGE_MS = 5_000;

const describeError = (error: unknown): string => {
  if (error instanceof Error) return error.message;
  try {
    return JSON.stringify(error);
  } catch {
    return String(error);
  }
};

/**
 * NestJS transport that consumes deployment commands from the JetStream work
 * queue: one durable pull consumer per kind the app handles, a pool of
 * `poolSize` handler slots per process, and pull requests only for free slots
 * (consume() pulls ahead of the handlers, which would park commands in a busy
 * replica that an idle one could run).
 */
export class JetStreamCommandServer
  extends Server<StatusEvents, JetStreamCommandServerStatus>
  implements CustomTransportStrategy
{
  override transportId = JETSTREAM_COMMAND_TRANSPORT;
  // Errors are awaited and turned into nak() here; Nest must not report them a second time.
  override readonly propagatesEventHandlerErrors = true;
  protected override readonly logger = new Logger(JetStreamCommandServer.name);

  private readonly topology: CommandTopology;
  private readonly pool: SlotPool;
  private readonly kindPools: SlotPool[] = [];
  private readonly fetchExpiresMs: number;
  private readonly shutdownTimeoutMs: number;
  private nc?: NatsConnection;
  private ownsConnection = false;
  private statusWatch?: AsyncIterator<Status> & { stop(): void };
  private readonly statusListeners = new Map<string, Array<(status: Status) => void>>();
  private stopping = false;
  private closing?: Promise<void>;
  private wakeOnStop!: () => void;
  private readonly stopped = new Promise<void>((resolve) => (this.wakeOnStop = resolve));
  private readonly pumps = new Set<Promise<void>>();
  private readonly fetches = new Set<Promise<void>>();
  private readonly openBatches = new Set<ConsumerMessages>();
  private readonly runningHandlers = new Set<Promise<void>>();
  private readonly workingTimers = new Set<NodeJS.Timeout>();
  private readonly gaugeSources: Array<() => void> = [];

  constructor(private readonly options: JetStreamCommandServerOptions) {
    super();
    if (!options.connection && !options.natsUrl) throw new Error('JetStreamCommandServer needs a connection or a natsUrl');
    this.topology = resolveTopology(options);
    this.pool = new SlotPool(options.poolSize ?? 10);
    this.fetchExpiresMs = Math.max(1_000, options.fetchExpiresMs ?? 10_000);
    this.shutdownTimeoutMs = options.shutdownTimeoutMs ?? 10_000;
  }

  async listen(callback: (...optionalParams: unknown[]) => unknown): Promise<void> {
    try {
      await this.start();
      callback();
    } catch (error) {
      callback(error);
    }
  }

  on<EventKey extends keyof StatusEvents = keyof StatusEvents, EventCallback extends StatusEvents[EventKey] = StatusEvents[EventKey]>(
    event: EventKey,
    callback: EventCallback,
  ): void {
    const listeners = this.statusListeners.get(event) ?? [];
    listeners.push(callback);
    this.statusListeners.set(event, listeners);
  }

  unwrap<T>(): T {
    if (!this.nc) throw new Error('JetStreamCommandServer is not listening yet');
    return this.nc as T;
  }

  /**
   * Stops pulling, waits (up to shutdownTimeoutMs) for running handlers, then
   * closes the pull iterators. Commands still arriving meanwhile are handed back.
   * Drains the connection only if this server opened it.
   */
  close(): Promise<void> {
    this.closing ??= this.shutdown();
    return this.closing;
  }

  private async start(): Promise<void> {
    this.nc = this.options.connection ?? (await connect({ servers: this.options.natsUrl, maxReconnectAttempts: -1 }));
    this.ownsConnection = !this.options.connection;
    this.watchStatus(this.nc);
    if (this.options.ensureTopology ?? true) await ensureCommandTopology(this.nc, this.options);

    const kinds = this.handledKinds();
    // Each kind also has a quota of the pool, so a backlog of one kind (or an
    // idle kind's waiting pull request) cannot take every slot from another.
    const quota = Math.max(1, Math.floor(this.pool.size / Math.max(1, kinds.length)));
    const js = jetstream(this.nc);
    for (const kind of kinds) {
      const consumer = await js.consumers.get(this.topology.streamName, this.topology.consumerNames[kind]);
      const { config } = await consumer.info(true);
      const ackWaitMs = config.ack_wait ? millis(config.ack_wait) : this.topology.ackWaitMs;
      const kindSlots = new SlotPool(quota);
      this.kindPools.push(kindSlots);
      this.exposeBacklog(kind, consumer);
      const pump = this.pump(kind, consumer, kindSlots, ackWaitMs);
      this.pumps.add(pump);
      void pump.finally(() => this.pumps.delete(pump));
    }
    this._status$.next('connected');
  }

  /** The consumer's backlog for /metrics, asked of the server at most every few seconds. */
  private exposeBacklog(kind: CommandKind, consumer: Consumer): void {
    const name = this.topology.consumerNames[kind];
    const info = cachedSource(() => consumer.info(true), BACKLOG_MAX_AGE_MS);
    const labels = { kind, consumer: name };
    this.gaugeSources.push(
      consumerGauges.pending.add(async () => [{ labels, value: (await info()).num_pending }]),
      consumerGauges.ackPending.add(async () => [{ labels, value: (await info()).num_ack_pending }]),
      consumerGauges.redelivered.add(async () => [{ labels, value: (await info()).num_redelivered }]),
    );
  }

  private handledKinds(): CommandKind[] {
    const kinds: CommandKind[] = [];
    for (const pattern of this.messageHandlers.keys()) {
      if (isCommandKind(pattern)) kinds.push(pattern);
      else this.logger.warn(`pattern ${pattern} is not a command kind; nothing is consumed for it`);
    }
    return kinds;
  }

  private async pump(kind: CommandKind, consumer: Consumer, kindSlots: SlotPool, ackWaitMs: number): Promise<void> {
    // A closed connection (the app drained it) ends the pump; a broken one only pauses it.
    while (!this.stopping && !this.nc?.isClosed()) {
      const wanted = await kindSlots.acquire(kindSlots.size);
      const granted = wanted === 0 ? 0 : await this.pool.acquire(wanted);
      kindSlots.release(wanted - granted);
      if (granted === 0) return;
      const release = (count: number) => {
        kindSlots.release(count);
        this.pool.release(count);
      };
      const fetch = this.fetchInto(kind, consumer, granted, ackWaitMs, release);
      this.fetches.add(fetch);
      void fetch.finally(() => this.fetches.delete(fetch));
    }
  }

  /** One pull request for exactly the slots granted; each message keeps its slot until its handler settles. */
  private async fetchInto(
    kind: CommandKind,
    consumer: Consumer,
    granted: number,
    ackWaitMs: number,
    release: (count: number) => void,
  ): Promise<void> {
    let used = 0;
    let batch: ConsumerMessages | undefined;
    try {
      batch = await consumer.fetch({ max_messages: granted, expires: this.fetchExpiresMs });
      this.openBatches.add(batch);
      for await (const message of batch) {
        // After a reconnect the client re-pulls the whole batch, so a fetch can
        // deliver more than it asked for: those go back rather than overrun the pool.
        if (this.stopping || used === granted) {
          message.nak(SHED_DELAY_MS);
          commandMetrics.naked.inc({ kind, reason: 'shed' });
          continue;
        }
        used += 1;
        const handling = this.handle(kind, message, ackWaitMs).finally(() => {
          this.runningHandlers.delete(handling);
          release(1);
        });
        this.runningHandlers.add(handling);
      }
    } catch (error) {
      if (!this.stopping) {
        this.logger.warn(`pulling ${kind} commands failed, retrying: ${describeError(error)}`);
        // Holding the slots while pausing keeps a broken connection from spinning the pump.
        await Promise.race([new Promise((resolve) => setTimeout(resolve, FETCH_FAILURE_PAUSE_MS)), this.stopped]);
      }
    } finally {
      if (batch) this.openBatches.delete(batch);
      release(granted - used);
    }
  }

  private async handle(kind: CommandKind, message: JsMsg, ackWaitMs: number): Promise<void> {
    const context = new JetStreamContext(message);
    const deliveryCount = context.getDeliveryCount();
    commandMetrics.received.inc({ kind });
    if (deliveryCount > 1) commandMetrics.redelivered.inc({ kind });
    let data: unknown;
    let parseError: unknown;
    try {
      data = message.json();
    } catch (error) {
      parseError = error;
    }
    const inFlight = commandMetrics.inFlight.labels({ kind });
    inFlight.inc();
    const stopTimer = commandMetrics.duration.startTimer({ kind });
    // Everything the handler logs, sends and appends carries the command's ids and continues its trace.
    const parent = parseTraceparent(message.headers?.get(TRACEPARENT_HEADER));
    try {
      await withContext(workContextOf(kind, data, message), () =>
        inSpan(`${kind} command`, { parent, kind: 'consumer', attributes: { 'messaging.system': 'nats', 'simdeploy.command.kind': kind } }, async () => {
          // Tells the server the command is still being worked on, so a long provider
          // call is not redelivered to another replica after ack_wait.
          const working = setInterval(() => message.working(), Math.max(100, Math.floor(ackWaitMs / 3)));
          this.workingTimers.add(working);
          let decision: AckDecision;
          let outcome: 'ack' | 'nak' | 'error';
          try {
            if (parseError !== undefined) throw parseError;
            decision = decideAck(await this.invoke(kind, data, context));
            outcome = decision.action;
          } catch (error) {
            const delayMs = failureBackoffMs(deliveryCount, this.options.retryBackoff);
            this.logger.error(
              `${kind} command #${message.seq} failed on delivery ${deliveryCount}, retrying in ${delayMs} ms: ${describeError(error)}`,
            );
            decision = { action: 'nak', delayMs };
            outcome = 'error';
          } finally {
            clearInterval(working);
            this.workingTimers.delete(working);
          }
          stopTimer({ outcome });
          await this.settle(kind, message, decision, outcome === 'error' ? 'error' : 'requested');
        }),
      );
    } finally {
      inFlight.dec();
    }
  }

  private invoke(kind: CommandKind, data: unknown, context: JetStreamContext): Promise<unknown> {
    const handler = this.getHandlerByPattern(kind);
    if (!handler) return Promise.reject(new Error(`no handler for ${kind}`));
    return new Promise((resolve, reject) => {
      this.runWithProcessingHooks(context, async (runEndHook) => {
        try {
          // Event handlers that throw come back as an erroring observable from Nest's exception filter.
          const result = this.transformToObservable((await handler(data, context)) as Observable<unknown>);
          resolve(await lastValueFrom(result, { defaultValue: undefined }));
        } catch (error) {
          reject(error);
        } finally {
          runEndHook();
        }
      });
    });
  }

  private async settle(kind: CommandKind, message: JsMsg, decision: AckDecision, nakReason: 'requested' | 'error'): Promise<void> {
    try {
      if (decision.action === 'ack') {
        await message.ackAck();
        commandMetrics.acked.inc({ kind });
      } else {
        message.nak(decision.delayMs);
        commandMetrics.naked.inc({ kind, reason: nakReason });
        commandMetrics.nakDelay.observe({ kind, reason: nakReason }, decision.delayMs / 1000);
      }
    } catch (error) {
      // The command will be delivered again; handlers are idempotent.
      this.logger.warn(`${decision.action} of ${message.subject} #${message.seq} not confirmed: ${describeError(error)}`);
    }
  }

  private watchStatus(nc: NatsConnection): void {
    const statuses = nc.status();
    this.statusWatch = statuses as unknown as AsyncIterator<Status> & { stop(): void };
    void (async () => {
      for await (const status of statuses) {
        if (status.type === 'disconnect') this._status$.next('disconnected');
        else if (status.type === 'reconnecting') this._status$.next('reconnecting');
        else if (status.type === 'reconnect') this._status$.next('connected');
        for (const listener of this.statusListeners.get(status.type) ?? []) listener(status);
      }
    })();
  }

  private async shutdown(): Promise<void> {
    this.stopping = true;
    for (const remove of this.gaugeSources.splice(0)) remove();
    this.wakeOnStop();
    for (const slots of [this.pool, ...this.kindPools]) slots.close();
    await Promise.allSettled([...this.pumps]);

    let timer: NodeJS.Timeout | undefined;
    const deadline = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), this.shutdownTimeoutMs)));
    const outcome = await Promise.race([Promise.allSettled([...this.runningHandlers]), deadline]);
    clearTimeout(timer);
    if (outcome === 'timeout') {
      this.logger.warn(`${this.runningHandlers.size} command handlers still running at shutdown; their commands will be redelivered`);
      // Without working() the server redelivers them after ack_wait.
      for (const working of this.workingTimers) clearInterval(working);
    }

    for (const batch of this.openBatches) batch.stop();
    await Promise.allSettled([...this.fetches]);
    this.statusWatch?.stop();
    if (this.ownsConnection && this.nc && !this.nc.isClosed()) await this.nc.drain();
  }
}

/** The ids a handler's log lines carry: the deployment, the kind, the request's correlation id and the command's message id. */
function workContextOf(kind: CommandKind, data: unknown, message: JsMsg): WorkContext {
  const body = typeof data === 'object' && data !== null ? (data as Partial<DeploymentCommandMessage>) : {};
  return {
    commandKind: kind,
    ...(typeof body.deploymentId === 'string' ? { deploymentId: body.deploymentId } : {}),
    ...(typeof body.correlationId === 'string' ? { correlationId: body.correlationId } : {}),
    ...(message.headers?.get('Nats-Msg-Id') ? { causationId: message.headers.get('Nats-Msg-Id') } : {}),
  };
}

export const createCommandServer = (options: JetStreamCommandServerOptions): JetStreamCommandServer =>
  new JetStreamCommandServer(options);
