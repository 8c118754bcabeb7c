import type { Actor } from '@simdeploy/domain';

/** The authenticated caller: the token's subject owns what it launches. */
export interface Principal extends Actor {
  isAdmin: boolean;
}

export const ADMIN_ROLE = 'admin';
