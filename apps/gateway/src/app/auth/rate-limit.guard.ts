import { CanActivate, ExecutionContext, HttpException, HttpStatus, Inject, Injectable } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { GatewayConfig } from '@simdeploy/config';
import { SERVICE_CONFIG } from '@simdeploy/service-kit';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from './principal';

type Limiter = ReturnType<FastifyInstance['createRateLimit']>;
type AuthenticatedRequest = FastifyRequest & { principal?: Principal };

/**
 * Requests per caller: after the token is verified (JwtAuthGuard runs first), each caller's
 * requests in a window are counted by @fastify/rate-limit's store, keyed by the token's
 * subject, so callers behind one address do not share a limit and a caller cannot escape
 * theirs with another address. Over it: 429 with Retry-After, and nothing done. Routes that
 * need no token (health, metrics, docs) are not counted. The count is per gateway replica.
 */
@Injectable()
export class RateLimitGuard implements CanActivate {
  private limiter: Limiter | null = null;

  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @Inject(SERVICE_CONFIG) private readonly config: GatewayConfig,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    if (this.config.RATE_LIMIT_MAX === 0) return true;
    const http = context.switchToHttp();
    const request = http.getRequest<AuthenticatedRequest>();
    const principal = request.principal;
    if (!principal || (principal.isAdmin && this.config.RATE_LIMIT_ADMIN_EXEMPT)) return true;
    const result = await this.limit(request);
    if (result.isAllowed) return true;
    const reply = http.getResponse<FastifyReply>();
    void reply.header('x-ratelimit-limit', result.max).header('x-ratelimit-remaining', result.remaining).header('x-ratelimit-reset', result.ttlInSeconds);
    if (!result.isExceeded) return true;
    void reply.header('retry-after', Math.max(1, result.ttlInSeconds));
    throw new HttpException(
      `too many requests: at most ${result.max} per ${this.config.RATE_LIMIT_WINDOW_S} s for each caller; retry in ${Math.max(1, result.ttlInSeconds)} s`,
      HttpStatus.TOO_MANY_REQUESTS,
    );
  }

  private limit(request: AuthenticatedRequest): ReturnType<Limiter> {
    this.limiter ??= this.adapterHost.httpAdapter.getInstance<FastifyInstance>().createRateLimit({
      max: this.config.RATE_LIMIT_MAX,
      timeWindow: this.config.RATE_LIMIT_WINDOW_S * 1000,
      keyGenerator: (req: FastifyRequest) => `caller:${(req as AuthenticatedRequest).principal?.subject ?? req.ip}`,
    });
    return this.limiter(request);
  }
}
