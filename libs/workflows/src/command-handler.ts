import { Logger } from '@nestjs/common';
import {
  DomainError,
  SimDeploymentCommand,
  SimDeploymentEvent,
  SimDeploymentState,
  decide,
  evolve,
  initialState,
  schemaVersionMetadata,
  upcast,
} from '@simdeploy/domain';
import {
  ConcurrencyError,
  EventStore,
  NO_STREAM,
  type EventMetadata,
  type Position,
  type RecordedEvent,
  type StreamRevision,
} from '@simdeploy/event-store';
import { currentContext, formatTraceparent, lifecycleMetrics, withContext } from '@simdeploy/telemetry';

export interface HandledCommand {
  /** State before the command, as it was decided on. */
  before: SimDeploymentState;
  /** Events this command appended (empty when it was already done). */
  events: SimDeploymentEvent[];
  /** State after the command. */
  state: SimDeploymentState;
  /** Revision after the command, null when the stream still does not exist. */
  revision: StreamRevision | null;
  /** Store position of the last appended event; null when nothing was appended. */
  position: Position | null;
}

export interface LoadedDeployment {
  state: SimDeploymentState;
  revision: StreamRevision | null;
}

export interface CommandHandlerOptions {
  /** How many times a command is re-read and re-decided after losing a race. Default 10. */
  maxAttempts?: number;
  /** Remember folded states so a read only fetches events newer than the last one seen. */
  cacheSize?: number;
}

export class TooMuchContentionError extends Error {
  constructor(readonly streamId: string, readonly attempts: number) {
    super(`gave up on ${streamId} after ${attempts} conflicting appends`);
    this.name = 'TooMuchContentionError';
  }
}

/** Events of other kinds on the stream (sweep records, say) do not change the state. */
const toDomainEvent = (recorded: RecordedEvent): SimDeploymentEvent | null => upcast(recorded);

/** The event records the trace of the work that appended it: an audit can follow a request across services. */
function withTrace(metadata: EventMetadata): EventMetadata {
  const trace = currentContext().trace;
  return trace && metadata['traceparent'] === undefined ? { ...metadata, traceparent: formatTraceparent(trace) } : metadata;
}

/**
 * Read, fold, decide, append with the expected revision; on a conflict re-read and
 * re-decide, a bounded number of times. The one place that loop is written.
 */
export class DeploymentCommandHandler {
  private readonly maxAttempts: number;
  private readonly cacheSize: number;
  private readonly cache = new Map<string, LoadedDeployment>();
  private readonly logger = new Logger(DeploymentCommandHandler.name);

  constructor(
    private readonly store: EventStore,
    options: CommandHandlerOptions = {},
  ) {
    this.maxAttempts = options.maxAttempts ?? 10;
    this.cacheSize = options.cacheSize ?? 10_000;
  }

  /** The current state of a deployment, reading only events the cache has not seen. */
  async load(deploymentId: string): Promise<LoadedDeployment> {
    const cached = this.cache.get(deploymentId);
    const read = await this.store.readStream(deploymentId, cached?.revision ? { after: cached.revision } : undefined);
    if (cached && read.events.length === 0) return cached;
    let state = cached?.state ?? initialState();
    for (const recorded of read.events) {
      const event = toDomainEvent(recorded);
      if (event) state = evolve(state, event);
    }
    const loaded = { state, revision: read.revision ?? cached?.revision ?? null };
    this.remember(deploymentId, loaded);
    return loaded;
  }

  /**
   * Decides on the state as it was loaded and appends with that revision, once. A decision
   * taken on an observation of that state must not be replayed on another: when the stream
   * has moved meanwhile the answer is `conflict`, and the caller looks again.
   */
  async decideOn(
    deploymentId: string,
    loaded: LoadedDeployment,
    command: SimDeploymentCommand,
    metadata: EventMetadata = {},
  ): Promise<HandledCommand | DomainError | 'conflict'> {
    const decision = decide(command, loaded.state);
    if (decision instanceof DomainError) return decision;
    if (decision.length === 0) return { before: loaded.state, events: [], state: loaded.state, revision: loaded.revision, position: null };
    try {
      return await this.append(deploymentId, loaded, decision, metadata);
    } catch (error) {
      if (!(error instanceof ConcurrencyError)) throw error;
      this.cache.delete(deploymentId);
      return 'conflict';
    }
  }

  /**
   * Decides and appends, re-reading and re-deciding after a lost race (for commands that
   * stand whatever else happened: a user's request, a fact a provider reported). Returns the
   * domain error when the command is refused; throws only for infrastructure failures and
   * for contention that outlasts `maxAttempts`.
   */
  async handle(
    deploymentId: string,
    command: SimDeploymentCommand,
    metadata: EventMetadata = {},
  ): Promise<HandledCommand | DomainError> {
    for (let attempt = 1; attempt <= this.maxAttempts; attempt++) {
      const loaded = await this.load(deploymentId);
      const decision = decide(command, loaded.state);
      if (decision instanceof DomainError) return decision;
      if (decision.length === 0) return { before: loaded.state, events: [], state: loaded.state, revision: loaded.revision, position: null };
      try {
        return await this.append(deploymentId, loaded, decision, metadata);
      } catch (error) {
        if (!(error instanceof ConcurrencyError)) throw error;
        // Another writer moved the stream; our cached view is stale by definition.
        this.cache.delete(deploymentId);
      }
    }
    throw new TooMuchContentionError(deploymentId, this.maxAttempts);
  }

  private async append(
    deploymentId: string,
    { state, revision }: LoadedDeployment,
    decision: SimDeploymentEvent[],
    metadata: EventMetadata,
  ): Promise<HandledCommand> {
    const traced = { ...withTrace(metadata), ...schemaVersionMetadata() };
    const appended = await this.store.append(
      deploymentId,
      decision.map((e) => ({ type: e.type, data: e.data, metadata: traced })),
      revision ?? NO_STREAM,
    );
    const next = decision.reduce(evolve, state);
    for (const event of decision) lifecycleMetrics.eventsAppended.inc({ type: event.type });
    // One line per change of a deployment, in every service: with the trace id, a launch reads across all four.
    withContext({ deploymentId }, () => this.logger.log(`appended ${decision.map((e) => e.type).join(', ')} at revision ${appended.nextRevision}: ${next?.status ?? 'none'}${next?.errorStatus ? ` (${next.errorStatus})` : ''}`));
    this.remember(deploymentId, { state: next, revision: appended.nextRevision });
    return { before: state, events: decision, state: next, revision: appended.nextRevision, position: appended.position };
  }

  private remember(deploymentId: string, loaded: LoadedDeployment): void {
    if (this.cacheSize <= 0) return;
    this.cache.delete(deploymentId);
    this.cache.set(deploymentId, loaded);
    if (this.cache.size > this.cacheSize) {
      const oldest = this.cache.keys().next().value;
      if (oldest !== undefined) this.cache.delete(oldest);
    }
  }
}
