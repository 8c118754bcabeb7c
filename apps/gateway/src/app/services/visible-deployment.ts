import { NotFoundError, SimDeployment } from '@simdeploy/domain';
import type { DeploymentCommandHandler } from '@simdeploy/workflows';
import { canSee, type Principal } from '../auth/principal';

/** The deployment, if it exists and the caller may see it; otherwise NotFound (never "forbidden", which would confirm it exists). */
export async function loadVisible(handler: DeploymentCommandHandler, principal: Principal, id: string): Promise<SimDeployment> {
  const { state } = await handler.load(id);
  if (state === null || !canSee(principal, state)) throw new NotFoundError(`simulation ${id} not found`);
  return state;
}
