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
  workOwner,
} from '@simdeploy/domain';
import { DeploymentCommandHandler, EventStore, Position, RecordedEvent } from '@simdeploy/event-store';
import { Clock, DeploymentView, DeploymentsReadModel, SERVICE_CONFIG, toView } from '@simdeploy/lifecycle';
import { CommandBus, CommandKind } from '@simdeploy/messaging';
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
    private readonly bus: CommandBus,
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
    };
    const provider = dto.provider ?? this.config.PROVIDER;
    let state: SimDeployment;
    try {
      state = await this.execute(id, principal, 'RequestLaunch', { deploymentId: id, owner: principal.subject, spec, provider });
    } catch (error) {
      // A retry (or a concurrent try) with the same key: the simulation exists already.
      if (!(idempotencyKey && error instanceof IllegalTransitionError)) throw error;
      return this.replayLaunch(await this.visible(principal, id));
    }
    await this.bus.send({ deploymentId: id, kind: CommandKind.Launch, issuedAt: state.requestedAt, reason: 'api' }, { messageId: `${id}:launch` });
    return toView(state);
  }

  /** The same simulation again; its launch command is re-sent (deduplicated) in case the first was lost. */
  private async replayLaunch(state: SimDeployment): Promise<DeploymentView> {
    await this.bus.send(
      { deploymentId: state.id, kind: CommandKind.Launch, issuedAt: state.requestedAt, reason: 'api' },
      { messageId: `${state.id}:launch` },
    );
    return toView(state);
  }

  async get(principal: Principal, id: string): Promise<DeploymentView> {
    return toView(await this.visible(principal, id));
  }

  async stop(principal: Principal, id: string): Promise<DeploymentView> {
    await this.visible(principal, id);
    const state = await this.execute(id, principal, 'RequestStop', { reason: principal.isAdmin ? 'admin' : 'user' });
    // Sent again on a repeated stop too: harmless (the terminator checks the events), and it
    // revives a termination whose command was lost.
    if (workOwner(state) === 'terminator') {
      await this.bus.send(
        { deploymentId: id, kind: CommandKind.Terminate, issuedAt: this.clock.now().toISOString(), reason: 'api' },
        { messageId: `${id}:terminate:${state.statusSince}` },
      );
    }
    return toView(state);
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

  /** Runs a command as the caller; a refusal is thrown for the HTTP filter to map. */
  async execute<T extends SimDeploymentCommand['type']>(
    id: string,
    principal: Principal,
    type: T,
    data: Extract<SimDeploymentCommand, { type: T }>['data'],
  ): Promise<SimDeployment> {
    const by = { subject: principal.subject, roles: principal.roles };
    const result = await this.handler.handle(id, command(type, data as never, { now: this.clock.now().toISOString(), by }), {
      correlationId: randomUUID(),
    });
    if (result instanceof DomainError) throw result;
    if (result.state === null) throw new ValidationError(`${type} left no deployment`);
    if (result.position) this.lastWrite = result.position;
    return result.state;
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
