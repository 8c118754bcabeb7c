import { CanActivate, ExecutionContext, ForbiddenException, Injectable, SetMetadata, UnauthorizedException, createParamDecorator } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import type { FastifyRequest } from 'fastify';
import { InvalidTokenError, TokenVerifier } from './token-verifier';
import { Principal } from './principal';

const PUBLIC = 'simdeploy:public';
const ADMIN_ONLY = 'simdeploy:admin-only';

/** No token needed (health, API docs). */
export const Public = () => SetMetadata(PUBLIC, true);
/** Only callers whose token carries the admin role. */
export const AdminOnly = () => SetMetadata(ADMIN_ONLY, true);

type AuthenticatedRequest = FastifyRequest & { principal?: Principal };

/** Every route needs a valid bearer token unless marked @Public(). */
@Injectable()
export class JwtAuthGuard implements CanActivate {
  constructor(
    private readonly verifier: TokenVerifier,
    private readonly reflector: Reflector,
  ) {}

  async canActivate(context: ExecutionContext): Promise<boolean> {
    const targets = [context.getHandler(), context.getClass()];
    if (this.reflector.getAllAndOverride<boolean>(PUBLIC, targets)) return true;
    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const header = request.headers.authorization ?? '';
    const match = /^Bearer\s+(\S+)$/i.exec(header);
    if (!match) throw new UnauthorizedException('a bearer token is required');
    try {
      request.principal = await this.verifier.verify(match[1]);
    } catch (error) {
      if (error instanceof InvalidTokenError) throw new UnauthorizedException(`invalid token: ${error.message}`);
      throw error;
    }
    if (this.reflector.getAllAndOverride<boolean>(ADMIN_ONLY, targets) && !request.principal.isAdmin) {
      throw new ForbiddenException('this needs the admin role');
    }
    return true;
  }
}

export const CurrentPrincipal = createParamDecorator((_: unknown, context: ExecutionContext): Principal => {
  const principal = context.switchToHttp().getRequest<AuthenticatedRequest>().principal;
  if (!principal) throw new UnauthorizedException('a bearer token is required');
  return principal;
});
