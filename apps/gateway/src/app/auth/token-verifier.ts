import { Inject, Injectable } from '@nestjs/common';
import { GatewayConfig } from '@simdeploy/config';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import { JWTPayload, createRemoteJWKSet, jwtVerify } from 'jose';
import { webcrypto } from 'node:crypto';
import { hasControlCharacters } from '../dtos/text-rules';
import { ACCESS_TOKEN_PURPOSE } from './access-tokens';
import { ADMIN_ROLE, Principal } from './principal';

export class InvalidTokenError extends Error {}


/**
 * The team a claim names: a string, or a list holding exactly one (identity providers give
 * groups as lists). Anything else, or several teams, is no team: the caller's own limits apply.
 */
function teamOf(claim: unknown): string | undefined {
  const value = Array.isArray(claim) && claim.length === 1 ? claim[0] : claim;
  return typeof value === 'string' && value.length > 0 && value.length <= 128 && !hasControlCharacters(value) ? value : undefined;
}

/** Bearer tokens: HS256 with the configured secret, or keys from a JWKS URL in production. */
@Injectable()
export class TokenVerifier {
  private readonly key: Parameters<typeof jwtVerify>[1] | Promise<webcrypto.CryptoKey>;
  private readonly algorithms: string[];

  constructor(@Inject(SERVICE_CONFIG) private readonly config: GatewayConfig) {
    if (config.JWKS_URL) {
      this.key = createRemoteJWKSet(new URL(config.JWKS_URL));
      this.algorithms = ['RS256', 'ES256', 'PS256', 'EdDSA'];
    } else {
      // Imported once: handing jose the raw secret imports a key on every request, a tenth of a list's time.
      this.key = webcrypto.subtle.importKey('raw', new TextEncoder().encode(config.JWT_SECRET), { name: 'HMAC', hash: 'SHA-256' }, false, ['verify']);
      this.algorithms = ['HS256'];
    }
  }

  async verify(token: string): Promise<Principal> {
    let payload: JWTPayload;
    try {
      // The cast only quiets jose's overloads, which name the DOM's CryptoKey type (not in this project's lib).
      ({ payload } = await jwtVerify(token, (await this.key) as Uint8Array, {
        algorithms: this.algorithms,
        issuer: this.config.JWT_ISSUER,
        audience: this.config.JWT_AUDIENCE,
      }));
    } catch (error) {
      throw new InvalidTokenError(error instanceof Error ? error.message : 'invalid token');
    }
    if (typeof payload.sub !== 'string' || payload.sub === '') throw new InvalidTokenError('token has no subject');
    // Signed with another key already; refused by its purpose too, should both keys ever be the same.
    if (payload['purpose'] === ACCESS_TOKEN_PURPOSE) throw new InvalidTokenError('a simulator access token is no API token');
    const roles = Array.isArray(payload['roles']) ? payload['roles'].filter((r): r is string => typeof r === 'string') : [];
    const team = this.config.TEAM_CLAIM === undefined ? undefined : teamOf(payload[this.config.TEAM_CLAIM]);
    return { subject: payload.sub, roles, isAdmin: roles.includes(ADMIN_ROLE), ...(team === undefined ? {} : { team }) };
  }
}
