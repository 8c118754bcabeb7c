import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post, Put } from '@nestjs/common';
import { ApiBearerAuth, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { DeploymentView } from '@simdeploy/read-model';
import { AdminOnly, CurrentPrincipal } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { ResolveReviewDto } from '../dtos/resolve-review.dto';
import { DeploymentIdPipe } from '../http/deployment-id.pipe';
import { SetQuotaDto } from '../dtos/quota.dto';
import { ScopeNamePipe } from '../http/scope-name.pipe';
import { AdminService, CapacityView, QuotaView, ReviewView } from '../services/admin.service';

@ApiTags('admin')
@ApiBearerAuth()
@AdminOnly()
@Controller('admin')
export class AdminController {
  constructor(private readonly admin: AdminService) {}

  /** Deployments in AdminReview, with their failure history and what they may still hold. */
  @Get('reviews')
  reviews(@CurrentPrincipal() principal: Principal): Promise<ReviewView[]> {
    return this.admin.reviews(principal);
  }

  @Post('simulations/:id/retry')
  @HttpCode(HttpStatus.ACCEPTED)
  retry(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string): Promise<DeploymentView> {
    return this.admin.retry(principal, id);
  }

  @Post('simulations/:id/resolve')
  @HttpCode(HttpStatus.OK)
  resolve(
    @CurrentPrincipal() principal: Principal,
    @Param('id', DeploymentIdPipe) id: string,
    @Body() body: ResolveReviewDto,
  ): Promise<DeploymentView> {
    return this.admin.resolve(principal, id, body.comment);
  }

  @Get('quotas/owners/:owner')
  @ApiOperation({ summary: "An owner's limits (in force, default, override) and how many of its launches are active and waiting" })
  ownerQuota(@Param('owner', ScopeNamePipe) owner: string): Promise<QuotaView> {
    return this.admin.quota(`owner:${owner}`);
  }

  @Put('quotas/owners/:owner')
  @ApiOperation({ summary: "Set an owner's limits (null: none; omitted: the default); launches that now fit start" })
  setOwnerQuota(@CurrentPrincipal() principal: Principal, @Param('owner', ScopeNamePipe) owner: string, @Body() body: SetQuotaDto): Promise<QuotaView> {
    return this.admin.setQuota(principal, `owner:${owner}`, limitsOf(body));
  }

  @Get('quotas/teams/:team')
  @ApiOperation({ summary: "A team's limits and its launches, when teams are configured (TEAM_CLAIM)" })
  teamQuota(@Param('team', ScopeNamePipe) team: string): Promise<QuotaView> {
    return this.admin.quota(`team:${team}`);
  }

  @Put('quotas/teams/:team')
  @ApiOperation({ summary: "Set a team's limits (null: none; omitted: the default); launches that now fit start" })
  setTeamQuota(@CurrentPrincipal() principal: Principal, @Param('team', ScopeNamePipe) team: string, @Body() body: SetQuotaDto): Promise<QuotaView> {
    return this.admin.setQuota(principal, `team:${team}`, limitsOf(body));
  }

  @Get('capacity')
  @ApiOperation({ summary: 'Each configured capacity limit (CAPACITY_LIMITS) and the machines held and waited for under it' })
  capacity(): Promise<CapacityView[]> {
    return this.admin.capacity();
  }
}

/** Only the fields the body has: one left out keeps to the configured default. */
const limitsOf = (body: SetQuotaDto): { maxActive?: number | null; maxQueued?: number | null } => ({
  ...(body.maxActive === undefined ? {} : { maxActive: body.maxActive }),
  ...(body.maxQueued === undefined ? {} : { maxQueued: body.maxQueued }),
});
