import { ConflictException, Inject, Injectable } from '@nestjs/common';
import { GatewayConfig } from '@simdeploy/config';
import { Status } from '@simdeploy/domain';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import { DeploymentCommandHandler } from '@simdeploy/workflows';
import { AccessTokens } from '../auth/access-tokens';
import type { Principal } from '../auth/principal';
import { loadVisible } from './visible-deployment';

export interface SimulationAccess {
  deploymentId: string;
  /** The simulator's WebSocket address through the gateway; plain HTTP works on the same path (http(s)://). */
  url: string;
  /** Opens connections until `expiresAt`; a connection it opened lives on while the simulation runs. */
  token: string;
  expiresAt: string;
  /** `url` with the token as its `token` query parameter, ready for a WebSocket client. */
  connectUrl: string;
}

/** The path the access proxy serves a simulation's simulator at. */
export const connectPath = (deploymentId: string): string => `/simulations/${deploymentId}/connect`;

/** Hands out access to running simulators: the owner's (or an admin's) token for one simulation. */
@Injectable()
export class AccessService {
  constructor(
    private readonly handler: DeploymentCommandHandler,
    private readonly tokens: AccessTokens,
    @Inject(SERVICE_CONFIG) private readonly config: GatewayConfig,
  ) {}

  /** `requestBase` is how this request reached the gateway (scheme://host); PUBLIC_URL overrides it. */
  async access(principal: Principal, id: string, requestBase: string): Promise<SimulationAccess> {
    const state = await loadVisible(this.handler, principal, id);
    if (state.status !== Status.Running) {
      throw new ConflictException(`simulation ${id} is ${state.status}${state.errorStatus ? ` (${state.errorStatus})` : ''}: access is given while it is Running`);
    }
    const { token, expiresAt } = await this.tokens.issue(principal, id);
    const base = (this.config.PUBLIC_URL ?? requestBase).replace(/\/+$/, '').replace(/^http/, 'ws');
    const url = `${base}${connectPath(id)}`;
    return { deploymentId: id, url, token, expiresAt: expiresAt.toISOString(), connectUrl: `${url}?token=${encodeURIComponent(token)}` };
  }
}
