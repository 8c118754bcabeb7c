import { Injectable } from '@nestjs/common';
import { ErrorStatus, SimDeployment, Status } from '@simdeploy/domain';
import { DeploymentView, HeldResources, ReadModel, heldResources, toView } from '@simdeploy/read-model';
import { Principal } from '../auth/principal';
import { SimulationsService } from './simulations.service';

export interface ReviewView extends DeploymentView {
  failures: SimDeployment['failures'];
  /** What the deployment may still hold, judged from how far its cleanup got. */
  held: HeldResources;
}

/** What an operator does with deployments the error handler gave up on. Each action is an event. */
@Injectable()
export class AdminService {
  constructor(
    private readonly simulations: SimulationsService,
    private readonly readModel: ReadModel,
  ) {}

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
