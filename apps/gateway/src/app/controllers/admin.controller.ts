import { Body, Controller, Get, HttpCode, HttpStatus, Param, Post } from '@nestjs/common';
import { ApiBearerAuth, ApiTags } from '@nestjs/swagger';
import type { DeploymentView } from '@simdeploy/read-model';
import { AdminOnly, CurrentPrincipal } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { ResolveReviewDto } from '../dtos/resolve-review.dto';
import { DeploymentIdPipe } from '../http/deployment-id.pipe';
import { AdminService, ReviewView } from '../services/admin.service';

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
}
