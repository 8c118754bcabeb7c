import { Inject, Injectable, OnModuleDestroy, OnModuleInit } from '@nestjs/common';
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
import { DeploymentView, DeploymentsReadModel, toView } from '@simdeploy/read-model';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import { withContext } from '@simdeploy/telemetry';
import { Clock, DeploymentCommandHandler, Dispatcher } from '@simdeploy/workflows';
import { createHash, randomUUID } from 'node:crypto';
import { Principal } from '../auth/principal';
import { LaunchSimulationDto } from '../dtos/launch-simulation.dto';
import { ListSimulationsQuery } from '../dtos/list-simulations.query';

export interface SimulationList {
  items: DeploymentView[];
  total: number;
  limit: number;
  offset: number;
}

export interface RecordedEventView {
  revision: string;
  position: string;
  recordedAt: string;
  type: string;
  data: object;
  metadata: object;
}

/** How long a list waits for the read model to show this gateway's own latest write. */
const READ_YOUR_WRITES_MS = 2_000;

/**
 * The gateway's use cases. Commands go through the domain (decide) and are appended with
 * an expected revision before the worker is told; reads of one deployment come straight
 * from its stream, so a caller always sees its own writes.
 */
@Injectable()
export class SimulationsService implements OnModuleInit, OnModuleDestroy {
  private readonly readModel: DeploymentsReadModel;
  private lastWrite: Position | null = null;

  constructor(
    private readonly handler: DeploymentCommandHandler,
    private readonly store: EventStore,
    private readonly dispatcher: Dispatcher,
    private readonly clock: Clock,
    @Inject(SERVICE_CONFIG) private readonly config: GatewayConfig,
  ) {
    this.readModel = new DeploymentsReadModel(store);
  }

  onModuleInit(): void {
    this.readModel.start();
  }

  async onModuleDestroy(): Promise<void> {
    await this.readModel.stop();
  }

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
    return toView(await this.visible(principal, id));
  }

  async stop(principal: Principal, id: string): Promise<DeploymentView> {
    await this.visible(principal, id);
    // A repeated stop appends nothing; what the state calls for is sent again (under the same
    // message id if nothing moved), which revives a termination whose command was lost.
    return toView(await this.execute(id, principal, 'RequestStop', { reason: principal.isAdmin ? 'admin' : 'user' }, { dispatchAlways: true }));
  }

  async list(principal: Principal, query: ListSimulationsQuery): Promise<SimulationList> {
    if (this.lastWrite) await this.readModel.caughtUp(this.lastWrite, READ_YOUR_WRITES_MS);
    const limit = query.limit ?? 50;
    const offset = query.offset ?? 0;
    const { items, total } = this.readModel.list({
      owner: principal.isAdmin ? undefined : principal.subject,
      status: query.status,
      errorStatus: query.errorStatus,
      limit,
      offset,
    });
    return { items: items.map(toView), total, limit, offset };
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
      if (result.position) this.lastWrite = result.position;
      if (result.events.length > 0 || options.dispatchAlways) {
        await this.dispatcher.dispatch(result.state, result.revision, { reason: 'api', correlationId, before: result.before });
      }
      return result.state;
    });
  }

  get projection(): DeploymentsReadModel {
    return this.readModel;
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
