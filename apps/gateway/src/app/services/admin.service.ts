import { Injectable } from '@nestjs/common';
import { ErrorStatus, Limits, SimDeployment, Status } from '@simdeploy/domain';
import { AdmissionLedgers, LedgerView, capacityLedger, quotaLedger } from '@simdeploy/workflows';
import { DeploymentView, HeldResources, ReadModel, heldResources, toView } from '@simdeploy/read-model';
import { Principal } from '../auth/principal';
import { SimulationsService } from './simulations.service';

export interface ReviewView extends DeploymentView {
  failures: SimDeployment['failures'];
  /** What the deployment may still hold, judged from how far its cleanup got. */
  held: HeldResources;
}

export interface QuotaView extends LedgerView {
  /** `owner:<subject>` or `team:<name>`. */
  scope: string;
}

export interface CapacityView extends LedgerView {
  /** `<provider>:<instance type>`, or `<provider>:*` for its other types. */
  key: string;
}

/** What an operator does with deployments the error handler gave up on, and with limits. Each action is an event. */
@Injectable()
export class AdminService {
  constructor(
    private readonly simulations: SimulationsService,
    private readonly readModel: ReadModel,
    private readonly ledgers: AdmissionLedgers,
  ) {}

  async quota(scope: string): Promise<QuotaView> {
    return { scope, ...(await this.ledgers.view(quotaLedger(scope))) };
  }

  /**
   * An owner's or team's limits, recorded on its ledger (so audited, and the same for every
   * replica after a restart). Launches that now fit start at once, in their order in line.
   */
  async setQuota(principal: Principal, scope: string, limits: Partial<Limits>): Promise<QuotaView> {
    await this.ledgers.setLimits(quotaLedger(scope), limits, { subject: principal.subject, roles: principal.roles });
    return this.quota(scope);
  }

  async capacity(): Promise<CapacityView[]> {
    return Promise.all(this.ledgers.capacityKeys().map(async (key) => ({ key, ...(await this.ledgers.view(capacityLedger(key))) })));
  }

  async reviews(principal: Principal): Promise<ReviewView[]> {
    await this.simulations.ensureFresh(principal);
    const statuses = Object.values(Status).filter((s) => s !== Status.Terminated);
    const { items } = await this.readModel.list({ errorStatuses: [ErrorStatus.AdminReview], statuses, limit: 10_000 });
    return items.map((state) => ({ ...toView(state), failures: state.failures, held: heldResources(state) }));
  }

  async retry(principal: Principal, id: string): Promise<DeploymentView> {
    return toView(await this.simulations.execute(id, principal, 'RequestCleanupRetry', {}));
  }

  async resolve(principal: Principal, id: string, comment: string): Promise<DeploymentView> {
    return toView(await this.simulations.execute(id, principal, 'ResolveAdminReview', { comment }));
  }
}
