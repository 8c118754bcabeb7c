import { BadRequestException, Body, Controller, Delete, Get, Headers, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiBearerAuth, ApiHeader, ApiTags } from '@nestjs/swagger';
import type { DeploymentView } from '@simdeploy/read-model';
import { CurrentPrincipal } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { LaunchSimulationDto } from '../dtos/launch-simulation.dto';
import { ListSimulationsQuery } from '../dtos/list-simulations.query';
import { DeploymentIdPipe } from '../http/deployment-id.pipe';
import { RecordedEventView, SimulationList, SimulationsService } from '../services/simulations.service';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{1,128}$/;

@ApiTags('simulations')
@ApiBearerAuth()
@Controller('simulations')
export class SimulationsController {
  constructor(private readonly simulations: SimulationsService) {}

  @Post()
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Retrying with the same key returns the simulation the first try created instead of launching another',
  })
  launch(
    @CurrentPrincipal() principal: Principal,
    @Body() body: LaunchSimulationDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<DeploymentView> {
    if (idempotencyKey !== undefined && !IDEMPOTENCY_KEY.test(idempotencyKey)) {
      throw new BadRequestException('Idempotency-Key must be 1 to 128 letters, digits, "-" or "_"');
    }
    return this.simulations.launch(principal, body, idempotencyKey);
  }

  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListSimulationsQuery): Promise<SimulationList> {
    return this.simulations.list(principal, query);
  }

  @Get(':id')
  get(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string): Promise<DeploymentView> {
    return this.simulations.get(principal, id);
  }

  @Post(':id/stop')
  @HttpCode(HttpStatus.ACCEPTED)
  stop(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string): Promise<DeploymentView> {
    return this.simulations.stop(principal, id);
  }

  @Delete(':id')
  @HttpCode(HttpStatus.ACCEPTED)
  remove(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string): Promise<DeploymentView> {
    return this.simulations.stop(principal, id);
  }

  @Get(':id/events')
  events(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string): Promise<RecordedEventView[]> {
    return this.simulations.events(principal, id);
  }
}
