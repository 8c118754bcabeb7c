import { GatewayConfig, loadConfig } from '@simdeploy/config';
import type { Clock } from '@simdeploy/workflows';
import { SignJWT, decodeJwt, decodeProtectedHeader } from 'jose';
import { AccessRefusedError, AccessTokens } from './access-tokens';
import { InvalidTokenError, TokenVerifier } from './token-verifier';

const JWT_SECRET = 'api-secret-with-at-least-32-characters';
const SIM = 'd6c1c2a0-1b2c-4d5e-8f90-a1b2c3d4e5f6';
const OTHER_SIM = '0b3e1a9c-2222-4d5e-8f90-a1b2c3d4e5f6';
const ALICE = { subject: 'alice', roles: [], isAdmin: false };

class TestClock implements Clock {
  constructor(public ms = Date.parse('2026-11-28T00:00:00Z')) {}
  now(): Date {
    return new Date(this.ms);
  }
}

const configWith = (env: Record<string, string> = {}) => loadConfig(GatewayConfig, { JWT_SECRET, ...env });
const refusal = (promise: Promise<unknown>) => promise.then(() => undefined, (error: unknown) => error as AccessRefusedError);

describe('access tokens', () => {
  it('open the one simulation they were given for, until they expire', async () => {
    const clock = new TestClock();
    const tokens = new AccessTokens(configWith({ ACCESS_TOKEN_TTL_S: '600' }), clock);
    const { token, expiresAt } = await tokens.issue(ALICE, SIM);
    expect(expiresAt.toISOString()).toBe('2026-11-28T00:10:00.000Z');
    expect(decodeProtectedHeader(token)).toEqual({ alg: 'HS256', typ: 'simdeploy-access+jwt' });
    expect(decodeJwt(token)).toMatchObject({ sub: 'alice', sim: SIM, purpose: 'simulator-access', aud: 'simdeploy:simulator-access', adm: false });

    clock.ms += 599_000;
    expect(await tokens.verify(token, SIM)).toMatchObject({ deploymentId: SIM, subject: 'alice', admin: false, expiresAt });
    expect(await refusal(tokens.verify(token, OTHER_SIM))).toMatchObject({ status: 403, message: 'the access token is for another simulation' });

    clock.ms += 2_000;
    expect(await refusal(tokens.verify(token, SIM))).toMatchObject({ status: 401, message: expect.stringMatching(/expired/) });
  });

  it('are refused when missing, malformed, or signed with any other key (the API key included)', async () => {
    const clock = new TestClock();
    const tokens = new AccessTokens(configWith(), clock);
    expect(await refusal(tokens.verify(undefined, SIM))).toMatchObject({ status: 401, message: expect.stringMatching(/required/) });
    expect(await refusal(tokens.verify('a.b.c', SIM))).toMatchObject({ status: 401, message: 'invalid access token' });
    const sameClaims = (key: string) =>
      new SignJWT({ purpose: 'simulator-access', sim: SIM })
        .setProtectedHeader({ alg: 'HS256', typ: 'simdeploy-access+jwt' })
        .setIssuer('simdeploy-gateway')
        .setAudience('simdeploy:simulator-access')
        .setSubject('alice')
        .setExpirationTime(Math.floor(clock.ms / 1000) + 60)
        .sign(new TextEncoder().encode(key));
    expect(await refusal(tokens.verify(await sameClaims(JWT_SECRET), SIM))).toMatchObject({ status: 401 });
    expect(await refusal(tokens.verify(await sameClaims('another-key-that-is-32-characters-long'), SIM))).toMatchObject({ status: 401 });
  });

  it('are never taken for API tokens: another key, and refused by their purpose should the keys ever be the same', async () => {
    const tokens = new AccessTokens(configWith(), new TestClock(Date.now()));
    const { token } = await tokens.issue(ALICE, SIM);
    const api = new TokenVerifier(configWith());
    await expect(api.verify(token)).rejects.toBeInstanceOf(InvalidTokenError);

    const shared = 'one-key-for-both-at-least-32-characters';
    const misconfigured = new AccessTokens({ ...configWith(), ACCESS_TOKEN_SECRET: shared } as GatewayConfig, new TestClock(Date.now()));
    const sameKeyToken = (await misconfigured.issue(ALICE, SIM)).token;
    await expect(new TokenVerifier({ ...configWith(), JWT_SECRET: shared } as GatewayConfig).verify(sameKeyToken)).rejects.toThrow(/no API token/);
  });

  it('are signed with ACCESS_TOKEN_SECRET when set, so every replica given it accepts the others’ tokens', async () => {
    const env = { ACCESS_TOKEN_SECRET: 'access-secret-with-at-least-32-chars' };
    const clock = new TestClock();
    const { token } = await new AccessTokens(configWith(env), clock).issue(ALICE, SIM);
    expect(await new AccessTokens(configWith(env), clock).verify(token, SIM)).toMatchObject({ subject: 'alice' });
    expect(await refusal(new AccessTokens(configWith(), clock).verify(token, SIM))).toMatchObject({ status: 401 });
  });
});
