import { Inject, Injectable } from '@nestjs/common';
import { GatewayConfig } from '@simdeploy/config';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import { Clock } from '@simdeploy/workflows';
import { SignJWT, errors, jwtVerify } from 'jose';
import { hkdfSync, randomUUID } from 'node:crypto';
import type { Principal } from './principal';

/** What makes an access token one: never an API token, and no API token is one. */
export const ACCESS_TOKEN_PURPOSE = 'simulator-access';
const AUDIENCE = 'simdeploy:simulator-access';
const ISSUER = 'simdeploy-gateway';
const TYPE = 'simdeploy-access+jwt';

/** Why a connection is refused, with the HTTP status it is answered with. */
export class AccessRefusedError extends Error {
  constructor(
    readonly status: 401 | 403 | 404 | 409 | 502 | 503,
    message: string,
  ) {
    super(message);
    this.name = 'AccessRefusedError';
  }
}

export interface AccessGrant {
  deploymentId: string;
  subject: string;
  admin: boolean;
  expiresAt: Date;
}

/**
 * Short-lived tokens that open connections to one simulation's simulator. Signed by the gateway
 * (HS256) with a key of their own (ACCESS_TOKEN_SECRET, or one derived from JWT_SECRET) and with
 * their own audience, type and purpose, so an API token never opens a simulator and an access
 * token never calls the API.
 */
@Injectable()
export class AccessTokens {
  private readonly key: Uint8Array;
  private readonly ttlMs: number;

  constructor(
    @Inject(SERVICE_CONFIG) config: GatewayConfig,
    private readonly clock: Clock,
  ) {
    this.key = AccessTokens.keyFrom(config);
    this.ttlMs = config.ACCESS_TOKEN_TTL_S * 1000;
  }

  static keyFrom(config: Pick<GatewayConfig, 'ACCESS_TOKEN_SECRET' | 'JWT_SECRET'>): Uint8Array {
    if (config.ACCESS_TOKEN_SECRET) return new TextEncoder().encode(config.ACCESS_TOKEN_SECRET);
    if (!config.JWT_SECRET) throw new Error('ACCESS_TOKEN_SECRET is required when JWT_SECRET is not set');
    // Another key than JWT_SECRET, the same on every replica, known to nobody who holds only API tokens.
    return new Uint8Array(hkdfSync('sha256', config.JWT_SECRET, 'simdeploy', 'simulator access tokens', 32));
  }

  async issue(principal: Principal, deploymentId: string): Promise<{ token: string; expiresAt: Date }> {
    const now = this.clock.now();
    const expiresAt = new Date(now.getTime() + this.ttlMs);
    const token = await new SignJWT({ purpose: ACCESS_TOKEN_PURPOSE, sim: deploymentId, adm: principal.isAdmin })
      .setProtectedHeader({ alg: 'HS256', typ: TYPE })
      .setIssuer(ISSUER)
      .setAudience(AUDIENCE)
      .setSubject(principal.subject)
      .setJti(randomUUID())
      .setIssuedAt(Math.floor(now.getTime() / 1000))
      .setExpirationTime(Math.floor(expiresAt.getTime() / 1000))
      .sign(this.key);
    return { token, expiresAt };
  }

  /** The grant the token carries for this simulation, or why it opens nothing here. */
  async verify(token: string | undefined, deploymentId: string): Promise<AccessGrant> {
    if (!token) throw new AccessRefusedError(401, 'an access token is required (?token=..., from GET /simulations/:id/access)');
    let payload;
    try {
      ({ payload } = await jwtVerify(token, this.key, {
        algorithms: ['HS256'],
        issuer: ISSUER,
        audience: AUDIENCE,
        typ: TYPE,
        requiredClaims: ['exp', 'sub', 'sim'],
        currentDate: this.clock.now(),
      }));
    } catch (error) {
      if (error instanceof errors.JWTExpired) throw new AccessRefusedError(401, 'the access token has expired: ask GET /simulations/:id/access for another');
      throw new AccessRefusedError(401, 'invalid access token');
    }
    if (payload['purpose'] !== ACCESS_TOKEN_PURPOSE || typeof payload.sub !== 'string') throw new AccessRefusedError(401, 'invalid access token');
    if (payload['sim'] !== deploymentId) throw new AccessRefusedError(403, 'the access token is for another simulation');
    return { deploymentId, subject: payload.sub, admin: payload['adm'] === true, expiresAt: new Date((payload.exp as number) * 1000) };
  }
}
