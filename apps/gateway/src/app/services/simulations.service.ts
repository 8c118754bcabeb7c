import { Inject, Injectable } from '@nestjs/common';
import { GatewayConfig } from '@simdeploy/config';
import {
  DomainError,
  IllegalTransitionError,
  NotFoundError,
  SimDeployment,
  SimDeploymentCommand,
  SimulationSpec,
  ValidationError,
  command,
} from '@simdeploy/domain';
import { EventStore, Position, RecordedEvent } from '@simdeploy/event-store';
import {
  DeploymentView,
  ListQuery,
  ProjectionFreshness,
  ReadModel,
  ReadModelUnavailableError,
  parseErrorStatuses,
  parseInstant,
  parseLabels,
  parseStatuses,
  toView,
} from '@simdeploy/read-model';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import { withContext } from '@simdeploy/telemetry';
import { Clock, DeploymentCommandHandler, Dispatcher } from '@simdeploy/workflows';
import { createHash, randomUUID } from 'node:crypto';
import { Principal } from '../auth/principal';
import { LaunchSimulationDto } from '../dtos/launch-simulation.dto';
import { ListSimulationsQuery } from '../dtos/list-simulations.query';

export interface SimulationList {
  items: DeploymentView[];
  /** Every match: given when it is cheap (no label or time filter) or asked for with includeTotal. */
  total?: number;
  limit: number;
  offset: number;
  /** Pass as `cursor` for the next page; null on the last one. */
  nextCursor: string | null;
}

export interface RecordedEventView {
  revision: string;
  position: string;
  recordedAt: string;
  type: string;
  data: object;
  metadata: object;
}

/** Callers whose latest write this gateway remembers, for read-your-writes; the oldest are forgotten first. */
const REMEMBERED_WRITERS = 10_000;

/**
 * The gateway's use cases. Commands go through the domain (decide) and are appended with
 * an expected revision before the worker is told. Lists and views come from the read model,
 * once it has caught up with the store as of this gateway's start, and after the caller's own
 * latest write here is in it (bounded by READ_YOUR_WRITES_MS).
 */
@Injectable()
export class SimulationsService {
  private readonly lastWrites = new Map<string, Position>();

  constructor(
    private readonly handler: DeploymentCommandHandler,
    private readonly store: EventStore,
    private readonly dispatcher: Dispatcher,
    private readonly clock: Clock,
    private readonly readModel: ReadModel,
    private readonly freshness: ProjectionFreshness,
    @Inject(SERVICE_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /**
   * With an idempotency key the id is derived from the owner and the key, so a client that
   * retries after a lost answer gets the simulation its first try created, not a second one.
   */
  async launch(principal: Principal, dto: LaunchSimulationDto, idempotencyKey?: string): Promise<DeploymentView> {
    const id = idempotencyKey ? idFromKey(principal.subject, idempotencyKey) : randomUUID();
    const spec: SimulationSpec = {
      world: dto.world,
      simulatorImage: dto.image,
      robots: dto.robots.map((r) => ({ name: r.name, image: r.image })),
      nodeInstanceType: dto.nodeInstanceType,
      labels: dto.labels ?? {},
      ...(dto.maxDurationSeconds !== undefined ? { maxDurationSeconds: dto.maxDurationSeconds } : {}),
      ...(dto.resources !== undefined ? { resources: dto.resources } : {}),
    };
    const provider = dto.provider ?? this.config.PROVIDER;
    try {
      return toView(await this.execute(id, principal, 'RequestLaunch', { deploymentId: id, owner: principal.subject, spec, provider }));
    } catch (error) {
      // A retry (or a concurrent try) with the same key: the simulation exists already.
      if (!(idempotencyKey && error instanceof IllegalTransitionError)) throw error;
      return this.replayLaunch(principal, id);
    }
  }

  /**
   * The same simulation again. What its state calls for is sent again, under the dispatcher's
   * message id for that state, in case the first try's send was lost with its answer.
   */
  private async replayLaunch(principal: Principal, id: string): Promise<DeploymentView> {
    const state = await this.visible(principal, id);
    const { revision } = await this.handler.load(id);
    await this.dispatcher.dispatch(state, revision, { reason: 'api' });
    return toView(state);
  }

  async get(principal: Principal, id: string): Promise<DeploymentView> {
    await this.ensureFresh(principal);
    const state = await this.readModel.get(id);
    if (state && (principal.isAdmin || state.owner === principal.subject)) return toView(state);
    // Not projected yet (written through another gateway a moment ago): the stream decides.
    if (state === null) return toView(await this.visible(principal, id));
    throw new NotFoundError(`simulation ${id} not found`);
  }

  async stop(principal: Principal, id: string): Promise<DeploymentView> {
    await this.visible(principal, id);
    // A repeated stop appends nothing; what the state calls for is sent again (under the same
    // message id if nothing moved), which revives a termination whose command was lost.
    return toView(await this.execute(id, principal, 'RequestStop', { reason: principal.isAdmin ? 'admin' : 'user' }, { dispatchAlways: true }));
  }

  async list(principal: Principal, query: ListSimulationsQuery): Promise<SimulationList> {
    await this.ensureFresh(principal);
    const limit = query.limit ?? 50;
    const offset = query.cursor ? 0 : (query.offset ?? 0);
    const labels = parseLabels(query.labels);
    const statuses = parseStatuses(query.status);
    const errorStatuses = parseErrorStatuses(query.errorStatus);
    const requestedFrom = parseInstant('requestedFrom', query.requestedFrom);
    const requestedTo = parseInstant('requestedTo', query.requestedTo);
    const listQuery: ListQuery = {
      limit,
      offset,
      ...(principal.isAdmin ? {} : { owner: principal.subject }),
      ...(statuses ? { statuses } : {}),
      ...(errorStatuses ? { errorStatuses } : {}),
      ...(labels ? { labels } : {}),
      ...(requestedFrom ? { requestedFrom } : {}),
      ...(requestedTo ? { requestedTo } : {}),
      ...(query.cursor ? { cursor: query.cursor } : {}),
      ...(query.includeTotal ? { withTotal: true } : {}),
    };
    const page = await this.readModel.list(listQuery);
    return { items: page.items.map(toView), ...(page.total === undefined ? {} : { total: page.total }), limit, offset, nextCursor: page.nextCursor };
  }

  /**
   * Reads wait until the projection is complete as of this gateway's start (a restart never
   * answers from a half-built one), then for the caller's own latest write, within a bound.
   */
  async ensureFresh(principal: Principal): Promise<void> {
    if (!(await this.freshness.whenReady(this.config.READ_MODEL_READY_WAIT_MS))) {
      throw new ReadModelUnavailableError('the read model has not reached the head of the event store yet');
    }
    const own = this.lastWrites.get(principal.subject);
    if (own === undefined) return;
    if ((await this.freshness.caughtUpTo(own, this.config.READ_YOUR_WRITES_MS)) && this.lastWrites.get(principal.subject) === own) {
      this.lastWrites.delete(principal.subject);
    }
  }

  private rememberWrite(subject: string, position: Position): void {
    this.lastWrites.delete(subject);
    this.lastWrites.set(subject, position);
    if (this.lastWrites.size > REMEMBERED_WRITERS) this.lastWrites.delete(this.lastWrites.keys().next().value as string);
  }

  async events(principal: Principal, id: string): Promise<RecordedEventView[]> {
    await this.visible(principal, id);
    const { events } = await this.store.readStream(id);
    return events.map(toEventView);
  }

  /** The deployment, if it exists and the caller may see it; otherwise NotFound (never "forbidden"). */
  async visible(principal: Principal, id: string): Promise<SimDeployment> {
    const { state } = await this.handler.load(id);
    if (state === null || (!principal.isAdmin && state.owner !== principal.subject)) {
      throw new NotFoundError(`simulation ${id} not found`);
    }
    return state;
  }

  /**
   * Runs a command as the caller and dispatches what the new state calls for; a refusal is
   * thrown for the HTTP filter to map.
   */
  async execute<T extends SimDeploymentCommand['type']>(
    id: string,
    principal: Principal,
    type: T,
    data: Extract<SimDeploymentCommand, { type: T }>['data'],
    options: { dispatchAlways?: boolean } = {},
  ): Promise<SimDeployment> {
    const by = { subject: principal.subject, roles: principal.roles };
    const correlationId = randomUUID();
    // Everything logged meanwhile names the deployment and the request.
    return withContext({ deploymentId: id, correlationId }, async () => {
      const result = await this.handler.handle(id, command(type, data as never, { now: this.clock.now().toISOString(), by }), { correlationId });
      if (result instanceof DomainError) throw result;
      if (result.state === null) throw new ValidationError(`${type} left no deployment`);
      if (result.position) this.rememberWrite(principal.subject, result.position);
      if (result.events.length > 0 || options.dispatchAlways) {
        await this.dispatcher.dispatch(result.state, result.revision, { reason: 'api', correlationId, before: result.before });
      }
      return result.state;
    });
  }
}

/** A UUID-shaped id from sha256(owner, key): a valid deployment id, the same for every retry. */
export function idFromKey(owner: string, key: string): string {
  const hex = createHash('sha256').update(`${owner}\0${key}`).digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20, 32)}`;
}

const toEventView = (e: RecordedEvent): RecordedEventView => ({
  revision: e.revision,
  position: e.position,
  recordedAt: e.recordedAt,
  type: e.type,
  data: e.data,
  metadata: e.metadata ?? {},
});
