import { Controller, Get, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { UsageDto, UsageQueryDto } from '../dtos/history.dto';
import { HistoryService, UsageView } from '../services/history.service';

@ApiTags('usage')
@ApiBearerAuth()
@Controller('usage')
export class UsageController {
  constructor(private readonly history: HistoryService) {}

  @Get()
  @ApiOperation({
    summary:
      'Machine-seconds (and hours) by owner and instance type over [since, until): each machine from its launch to its termination as the events record them, clipped to the period',
  })
  @ApiOkResponse({ type: UsageDto })
  usage(@CurrentPrincipal() principal: Principal, @Query() query: UsageQueryDto): Promise<UsageView> {
    return this.history.usage(principal, query);
  }
}
