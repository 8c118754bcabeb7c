import { Inject, Injectable } from '@nestjs/common';
import { GatewayConfig } from '@simdeploy/config';
import {
  ALL_STATUSES,
  DomainError,
  IllegalTransitionError,
  NotFoundError,
  SimDeployment,
  SimDeploymentCommand,
  SimulationSpec,
  Status,
  ValidationError,
  command,
  isFinal,
  isTerminating,
} from '@simdeploy/domain';
import { EventStore, Position, RecordedEvent, comparePositions } from '@simdeploy/event-store';
import {
  DeploymentFilter,
  DeploymentView,
  ListQuery,
  Viewer,
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
import { AdmissionLedgers, Clock, DeploymentCommandHandler, Dispatcher } from '@simdeploy/workflows';
import { createHash, randomUUID } from 'node:crypto';
import { Principal, canSee } from '../auth/principal';
import { LaunchBatchDto, StopSimulationsDto } from '../dtos/bulk.dto';
import { LaunchSimulationDto } from '../dtos/launch-simulation.dto';
import { ListSimulationsQuery } from '../dtos/list-simulations.query';
import { loadVisible } from './visible-deployment';

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

export interface BatchLaunched {
  /** The batch's own id, also its label's value. */
  batch: string;
  /** The label every simulation of the batch carries, to list or stop them by. */
  labels: Record<string, string>;
  /** In the order of the request's specs. */
  ids: string[];
  simulations: DeploymentView[];
}

export interface StoppedSimulations {
  /** Simulations this request stopped, newest first. */
  stopped: string[];
  /** Matches that were on their way out already. */
  alreadyStopping: string[];
  /** More matched than one request stops: send it again for the rest. */
  more: boolean;
}

/** The label a batch launch gives each of its simulations. */
export const BATCH_LABEL = 'simdeploy.io/batch';
/** Launches of one batch request in flight at once. */
const BATCH_CONCURRENCY = 8;
/** Stops of one selector request in flight at once: each is a read and an append on its own stream. */
const STOP_CONCURRENCY = 32;
/** Stops one selector request makes at most. */
export const STOP_MATCHING_MAX = 1000;

const viewerOf = (principal: Principal): Viewer => ({ owner: principal.subject, ...(principal.team === undefined ? {} : { team: principal.team }) });

/** The specs of a batch: a list, or one spec and a count; exactly one of the two. */
function batchSpecs(dto: LaunchBatchDto): LaunchSimulationDto[] {
  if (dto.simulations !== undefined && (dto.simulation !== undefined || dto.count !== undefined)) {
    throw new ValidationError('give either simulations (a list) or simulation and count, not both');
  }
  if (dto.simulations !== undefined) return dto.simulations;
  if (dto.simulation === undefined || dto.count === undefined) throw new ValidationError('simulations (a list of 1 to 100), or simulation and count (1 to 100), is required');
  return Array.from({ length: dto.count }, () => dto.simulation as LaunchSimulationDto);
}

/** Callers whose latest write this gateway remembers, for read-your-writes; the oldest are forgotten first. */
const REMEMBERED_WRITERS = 10_000;
const REMEMBERED_DEPLOYMENT_WRITES = 100_000;

/**
 * The gateway's use cases. Commands go through the domain (decide) and are appended with
 * an expected revision before the worker is told. Lists and views come from the read model,
 * once it has caught up with the store as of this gateway's start, and after the caller's own
 * latest write here is in it (bounded by READ_YOUR_WRITES_MS).
 */
@Injectable()
export class SimulationsService {
  private readonly lastWrites = new Map<string, Position>();
  /** The latest write through this gateway per deployment, until the projection holds it. */
  private readonly deploymentWrites = new Map<string, Position>();

  constructor(
    private readonly handler: DeploymentCommandHandler,
    private readonly store: EventStore,
    private readonly dispatcher: Dispatcher,
    private readonly clock: Clock,
    private readonly readModel: ReadModel,
    private readonly freshness: ProjectionFreshness,
    private readonly ledgers: AdmissionLedgers,
    @Inject(SERVICE_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /**
   * With an idempotency key the id is derived from the owner and the key, so a client that
   * retries after a lost answer gets the simulation its first try created, not a second one.
   */
  async launch(principal: Principal, dto: LaunchSimulationDto, idempotencyKey?: string): Promise<DeploymentView> {
    const id = idempotencyKey ? idFromKey(principal.subject, idempotencyKey) : randomUUID();
    return this.launchOne(principal, id, dto, {}, idempotencyKey !== undefined);
  }

  /**
   * Up to 100 launches in one request, answered with their ids at once; each is queued or
   * started like a single launch. With an idempotency key the ids come from the key and each
   * launch's place in the batch, so a retry (after a lost answer, or a failure half way) gets
   * the same simulations and launches only those the first try did not. The batch label
   * finds them again (GET /simulations?labels=simdeploy.io/batch=<batch>, or stop by it).
   */
  async launchBatch(principal: Principal, dto: LaunchBatchDto, idempotencyKey?: string): Promise<BatchLaunched> {
    const specs = batchSpecs(dto);
    const batch = idempotencyKey ? idFromKey(principal.subject, `batch:${idempotencyKey}`).replace(/-/g, '').slice(0, 20) : randomUUID().replace(/-/g, '').slice(0, 20);
    const extra = { ...(dto.labels ?? {}), [BATCH_LABEL]: batch };
    const ids = specs.map((_, i) => (idempotencyKey ? idFromKey(principal.subject, `${idempotencyKey}:${i}`) : randomUUID()));
    const views = new Array<DeploymentView>(specs.length);
    let next = 0;
    const worker = async () => {
      for (let i = next++; i < specs.length; i = next++) {
        views[i] = await this.launchOne(principal, ids[i] as string, specs[i] as LaunchSimulationDto, extra, idempotencyKey !== undefined);
      }
    };
    await Promise.all(Array.from({ length: Math.min(BATCH_CONCURRENCY, specs.length) }, worker));
    return { batch, labels: { [BATCH_LABEL]: batch }, ids, simulations: views };
  }

  private async launchOne(principal: Principal, id: string, dto: LaunchSimulationDto, extraLabels: Record<string, string>, retriable: boolean): Promise<DeploymentView> {
    const spec: SimulationSpec = {
      world: dto.world,
      simulatorImage: dto.image,
      robots: dto.robots.map((r) => ({ name: r.name, image: r.image })),
      nodeInstanceType: dto.nodeInstanceType,
      labels: { ...(dto.labels ?? {}), ...extraLabels },
      ...(dto.maxDurationSeconds !== undefined ? { maxDurationSeconds: dto.maxDurationSeconds } : {}),
      ...(dto.resources !== undefined ? { resources: dto.resources } : {}),
    };
    const provider = dto.provider ?? this.config.PROVIDER;
    const team = principal.team === undefined ? {} : { team: principal.team };
    try {
      return toView(await this.execute(id, principal, 'RequestLaunch', { deploymentId: id, owner: principal.subject, ...team, spec, provider }));
    } catch (error) {
      // A retry (or a concurrent try) with the same key: the simulation exists already.
      if (!(retriable && error instanceof IllegalTransitionError)) throw error;
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
    await this.ensureReady();
    // Written through this gateway and not projected yet: its stream has the write, so it
    // answers at once instead of waiting for the projection to pass the caller's latest write.
    if (this.unprojected(id)) return this.withPlace(await this.visible(principal, id));
    const projected = await this.readModel.get(id);
    if (projected && !canSee(principal, projected)) throw new NotFoundError(`simulation ${id} not found`);
    // Not projected yet (written through another gateway a moment ago): the stream decides.
    const state = projected ?? (await this.visible(principal, id));
    return this.withPlace(state);
  }

  /** A queued launch's view names its place in line, read from the ledger it waits in. */
  private async withPlace(state: SimDeployment): Promise<DeploymentView> {
    const view = toView(state);
    const ledger = state.admission?.state === 'queued' ? state.admission.ledgers[0] : undefined;
    if (!view.admission || ledger === undefined || state.status !== Status.Pending) return view;
    const standing = await this.ledgers.standing(ledger, state.id);
    return { ...view, admission: { ...view.admission, place: 'queued' in standing ? standing.place : null } };
  }

  async stop(principal: Principal, id: string): Promise<DeploymentView> {
    await this.visible(principal, id);
    // A repeated stop appends nothing; what the state calls for is sent again (under the same
    // message id if nothing moved), which revives a termination whose command was lost.
    return toView(await this.execute(id, principal, 'RequestStop', { reason: principal.isAdmin ? 'admin' : 'user' }, { dispatchAlways: true }));
  }

  /**
   * Stops every simulation the caller may stop (their own and their team's; an admin's: all)
   * that matches the selector and is not over yet, up to STOP_MATCHING_MAX of them per request
   * (`more` says whether to send it again). Each stop is the single stop's command.
   */
  async stopMatching(principal: Principal, dto: StopSimulationsDto): Promise<StoppedSimulations> {
    const labels = dto.labels && Object.keys(dto.labels).length > 0 ? dto.labels : undefined;
    const statuses = parseStatuses(dto.status);
    if (!labels && !statuses && dto.owner === undefined && dto.team === undefined) {
      throw new ValidationError('a selector is required: labels, status, owner or team (to stop everything, say status=!Terminated)');
    }
    await this.ensureFresh(principal);
    const open = (statuses ?? ALL_STATUSES).filter((s) => !isFinal(s) && !isTerminating(s));
    const stopping = (statuses ?? ALL_STATUSES).filter((s) => isTerminating(s));
    const filter: DeploymentFilter = {
      ...(principal.isAdmin ? {} : { visibleTo: viewerOf(principal) }),
      ...(labels ? { labels } : {}),
      ...(dto.owner === undefined ? {} : { owner: dto.owner }),
      ...(dto.team === undefined ? {} : { team: dto.team }),
    };
    // Read before any stop of this request is written, so none of them can be counted here.
    const alreadyStopping = stopping.length === 0 ? [] : await this.collect({ ...filter, statuses: stopping }, STOP_MATCHING_MAX);
    const matched = await this.collect({ ...filter, statuses: open }, STOP_MATCHING_MAX + 1);
    const more = matched.length > STOP_MATCHING_MAX;
    const stopped: string[] = [];
    let next = 0;
    const targets = matched.slice(0, STOP_MATCHING_MAX);
    const worker = async () => {
      for (let i = next++; i < targets.length; i = next++) {
        const id = targets[i] as string;
        try {
          const state = await this.execute(id, principal, 'RequestStop', { reason: principal.isAdmin ? 'admin' : 'user' }, { dispatchAlways: true });
          if (state.stop) stopped.push(id);
        } catch (error) {
          // Ended meanwhile (rejected, or stopped by someone else): nothing to stop.
          if (!(error instanceof IllegalTransitionError)) throw error;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(STOP_CONCURRENCY, targets.length) }, worker));
    const order = new Map(targets.map((id, i) => [id, i]));
    stopped.sort((a, b) => (order.get(a) ?? 0) - (order.get(b) ?? 0));
    return { stopped, alreadyStopping, more };
  }

  /** The ids of up to `max` matches, newest first, page by page. */
  private async collect(filter: DeploymentFilter, max: number): Promise<string[]> {
    const ids: string[] = [];
    let cursor: string | undefined;
    while (ids.length < max) {
      const page = await this.readModel.list({ ...filter, limit: Math.min(500, max - ids.length), ...(cursor ? { cursor } : {}) });
      ids.push(...page.items.map((s) => s.id));
      if (!page.nextCursor) break;
      cursor = page.nextCursor;
    }
    return ids;
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
      ...(principal.isAdmin ? {} : { visibleTo: viewerOf(principal) }),
      ...(query.owner === undefined ? {} : { owner: query.owner }),
      ...(query.team === undefined ? {} : { team: query.team }),
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
    await this.ensureReady();
    const own = this.lastWrites.get(principal.subject);
    if (own === undefined) return;
    if ((await this.freshness.caughtUpTo(own, this.config.READ_YOUR_WRITES_MS)) && this.lastWrites.get(principal.subject) === own) {
      this.lastWrites.delete(principal.subject);
    }
  }

  private async ensureReady(): Promise<void> {
    if (!(await this.freshness.whenReady(this.config.READ_MODEL_READY_WAIT_MS))) {
      throw new ReadModelUnavailableError('the read model has not reached the head of the event store yet');
    }
  }

  /** Whether this gateway wrote to the deployment at a position the projection does not hold yet. */
  private unprojected(id: string): boolean {
    const written = this.deploymentWrites.get(id);
    if (written === undefined) return false;
    const checkpoint = this.freshness.checkpoint;
    if (checkpoint !== null && comparePositions(checkpoint, written) >= 0) {
      this.deploymentWrites.delete(id);
      return false;
    }
    return true;
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
  visible(principal: Principal, id: string): Promise<SimDeployment> {
    return loadVisible(this.handler, principal, id);
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
      if (result.position) {
        this.rememberWrite(principal.subject, result.position);
        this.deploymentWrites.delete(id);
        this.deploymentWrites.set(id, result.position);
        if (this.deploymentWrites.size > REMEMBERED_DEPLOYMENT_WRITES) this.deploymentWrites.delete(this.deploymentWrites.keys().next().value as string);
      }
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
