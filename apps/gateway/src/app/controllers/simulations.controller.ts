import { BadRequestException, Body, Controller, Delete, Get, Headers, HttpCode, HttpStatus, Param, Post, Query } from '@nestjs/common';
import { ApiAcceptedResponse, ApiBearerAuth, ApiHeader, ApiOkResponse, ApiOperation, ApiQuery, ApiTags } from '@nestjs/swagger';
import type { DeploymentView } from '@simdeploy/read-model';
import { CurrentPrincipal } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { BatchLaunchedDto, LaunchBatchDto, StopSimulationsDto, StoppedSimulationsDto } from '../dtos/bulk.dto';
import { SimulationHistoryDto } from '../dtos/history.dto';
import { LaunchSimulationDto } from '../dtos/launch-simulation.dto';
import { ListSimulationsQuery } from '../dtos/list-simulations.query';
import { DeploymentIdPipe } from '../http/deployment-id.pipe';
import { HistoryService, SimulationHistory } from '../services/history.service';
import { BatchLaunched, RecordedEventView, SimulationList, SimulationsService, StoppedSimulations } from '../services/simulations.service';

const IDEMPOTENCY_KEY = /^[A-Za-z0-9_-]{1,128}$/;

function checkedKey(key: string | undefined): string | undefined {
  if (key !== undefined && !IDEMPOTENCY_KEY.test(key)) throw new BadRequestException('Idempotency-Key must be 1 to 128 letters, digits, "-" or "_"');
  return key;
}

@ApiTags('simulations')
@ApiBearerAuth()
@Controller('simulations')
export class SimulationsController {
  constructor(
    private readonly simulations: SimulationsService,
    private readonly history: HistoryService,
  ) {}

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
    return this.simulations.launch(principal, body, checkedKey(idempotencyKey));
  }

  @Post('batch')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: 'Launch up to 100 simulations in one request (a list, or one spec and a count); answers with their ids at once' })
  @ApiHeader({
    name: 'Idempotency-Key',
    required: false,
    description: 'Covers the whole batch: a retry with the same key (and body) returns the same ids and launches only what the first try did not',
  })
  @ApiAcceptedResponse({ type: BatchLaunchedDto })
  launchBatch(
    @CurrentPrincipal() principal: Principal,
    @Body() body: LaunchBatchDto,
    @Headers('idempotency-key') idempotencyKey?: string,
  ): Promise<BatchLaunched> {
    return this.simulations.launchBatch(principal, body, checkedKey(idempotencyKey));
  }

  @Post('stop')
  @HttpCode(HttpStatus.ACCEPTED)
  @ApiOperation({ summary: "Stop every simulation of the caller's (and their team's) that matches labels, status, owner or team; answers with the ids it stopped" })
  @ApiAcceptedResponse({ type: StoppedSimulationsDto })
  stopMatching(@CurrentPrincipal() principal: Principal, @Body() body: StopSimulationsDto): Promise<StoppedSimulations> {
    return this.simulations.stopMatching(principal, body);
  }

  @Get()
  list(@CurrentPrincipal() principal: Principal, @Query() query: ListSimulationsQuery): Promise<SimulationList> {
    return this.simulations.list(principal, query);
  }

  @Get(':id')
  @ApiQuery({
    name: 'at',
    required: false,
    example: '2026-03-01T10:05:00Z',
    description: 'The simulation as it was at this time (ISO-8601), folded from its events up to it; 404 when it did not exist yet',
  })
  get(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string, @Query('at') at?: string): Promise<DeploymentView> {
    return at === undefined || at === '' ? this.simulations.get(principal, id) : this.history.at(principal, id, at);
  }

  @Get(':id/history')
  @ApiOperation({ summary: 'The status intervals of a simulation (status, error status, from, to, duration), derived from its events' })
  @ApiOkResponse({ type: SimulationHistoryDto })
  statusHistory(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string): Promise<SimulationHistory> {
    return this.history.history(principal, id);
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
