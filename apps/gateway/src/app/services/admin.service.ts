import { Injectable } from '@nestjs/common';
import { ErrorStatus, SimDeployment } from '@simdeploy/domain';
import { DeploymentView, HeldResources, heldResources, toView } from '@simdeploy/read-model';
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
  constructor(private readonly simulations: SimulationsService) {}

  reviews(): ReviewView[] {
    return this.simulations.projection
      .list({ errorStatus: ErrorStatus.AdminReview, status: '!Terminated', limit: 10_000, offset: 0 })
      .items.map((state) => ({ ...toView(state), failures: state.failures, held: heldResources(state) }));
  }

  async retry(principal: Principal, id: string): Promise<DeploymentView> {
    return toView(await this.simulations.execute(id, principal, 'RequestCleanupRetry', {}));
  }

  async resolve(principal: Principal, id: string, comment: string): Promise<DeploymentView> {
    return toView(await this.simulations.execute(id, principal, 'ResolveAdminReview', { comment }));
  }
}
