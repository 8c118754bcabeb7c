import { Injectable } from '@nestjs/common';
import { NotFoundError, StatusInterval, UsageRow, ValidationError, monthStartBefore, stateAt, statusIntervals } from '@simdeploy/domain';
import { EventStore } from '@simdeploy/event-store';
import { DeploymentView, ReadModel, parseInstant, toView } from '@simdeploy/read-model';
import { Clock } from '@simdeploy/workflows';
import type { Principal } from '../auth/principal';
import type { UsageQueryDto } from '../dtos/history.dto';
import { SimulationsService } from './simulations.service';

export interface SimulationHistory {
  id: string;
  intervals: StatusInterval[];
}

export interface UsageRowView extends UsageRow {
  machineHours: number;
}

export interface UsageView {
  since: string;
  until: string;
  now: string;
  rows: UsageRowView[];
  total: { machineSeconds: number; machineHours: number; instances: number };
}

const hours = (seconds: number): number => Math.round(seconds / 3.6) / 1000;

/**
 * What a deployment went through, and what machines cost. History and the state at a time are
 * folded from the deployment's own events (read as GET /simulations/:id/events reads them);
 * usage is the read model's SQL aggregate of the machine intervals the projector keeps.
 */
@Injectable()
export class HistoryService {
  constructor(
    private readonly simulations: SimulationsService,
    private readonly store: EventStore,
    private readonly readModel: ReadModel,
    private readonly clock: Clock,
  ) {}

  async history(principal: Principal, id: string): Promise<SimulationHistory> {
    await this.simulations.visible(principal, id);
    const { events } = await this.store.readStream(id);
    return { id, intervals: statusIntervals(events) };
  }

  /** The deployment as it was at `at`; NotFound when it did not exist yet (or the caller may not see it). */
  async at(principal: Principal, id: string, at: string): Promise<DeploymentView> {
    const time = parseInstant('at', at) as string;
    await this.simulations.visible(principal, id);
    const { events } = await this.store.readStream(id);
    const state = stateAt(events, time);
    if (state === null) throw new NotFoundError(`simulation ${id} did not exist yet at ${time}`);
    return toView(state);
  }

  /** Admins see every owner's machines; anyone else what they may see of the deployments (their own and their team's), as lists do. */
  async usage(principal: Principal, query: UsageQueryDto): Promise<UsageView> {
    const now = this.clock.now().toISOString();
    const until = parseInstant('until', query.until) ?? now;
    const since = parseInstant('since', query.since) ?? monthStartBefore(Date.parse(until));
    if (Date.parse(since) >= Date.parse(until)) throw new ValidationError(`since (${since}) must be before until (${until})`);
    await this.simulations.ensureFresh(principal);
    const rows = await this.readModel.usage({
      since,
      until,
      now,
      ...(query.owner === undefined ? {} : { owner: query.owner }),
      ...(query.team === undefined ? {} : { team: query.team }),
      ...(principal.isAdmin ? {} : { visibleTo: { owner: principal.subject, ...(principal.team === undefined ? {} : { team: principal.team }) } }),
    });
    const seconds = rows.reduce((sum, r) => sum + Math.round(r.machineSeconds * 1000), 0) / 1000;
    return {
      since,
      until,
      now,
      rows: rows.map((r) => ({ owner: r.owner, instanceType: r.instanceType, machineSeconds: r.machineSeconds, machineHours: hours(r.machineSeconds), instances: r.instances })),
      total: { machineSeconds: seconds, machineHours: hours(seconds), instances: rows.reduce((n, r) => n + r.instances, 0) },
    };
  }
}
