import { Controller, Get, Param, Query } from '@nestjs/common';
import { ApiBadRequestResponse, ApiBearerAuth, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { CurrentPrincipal } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { SimulationLogsDto } from '../dtos/access.dto';
import { LogsQuery } from '../dtos/logs.query';
import { DeploymentIdPipe } from '../http/deployment-id.pipe';
import { LogsService, SimulationLogs } from '../services/logs.service';

@ApiTags('simulations')
@ApiBearerAuth()
@Controller('simulations')
export class LogsController {
  constructor(private readonly logs: LogsService) {}

  @Get(':id/logs')
  @ApiOperation({
    summary: "A pod's last log lines",
    description: 'From the pod while the simulation runs, from the archive once it terminated (the same endpoint). `pod` defaults to the simulator.',
  })
  @ApiOkResponse({ type: SimulationLogsDto })
  @ApiBadRequestResponse({ description: 'tail out of 1..10000, or a pod that is not one of the simulation’s' })
  @ApiNotFoundResponse({ description: 'No such simulation, or another owner’s' })
  read(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string, @Query() query: LogsQuery): Promise<SimulationLogs> {
    return this.logs.logs(principal, id, query);
  }
}
