import type { Actor, SimDeployment } from '@simdeploy/domain';

/** The authenticated caller: the token's subject owns what it launches. */
export interface Principal extends Actor {
  isAdmin: boolean;
  /** The caller's team, from the token claim TEAM_CLAIM names; unset when teams are off or the token has none. */
  team?: string;
}

export const ADMIN_ROLE = 'admin';

/** An admin sees everything; anyone else their own simulations, and their team's. */
export const canSee = (principal: Principal, state: Pick<SimDeployment, 'owner' | 'team'>): boolean =>
  principal.isAdmin || state.owner === principal.subject || (principal.team !== undefined && state.team === principal.team);
