import { Controller, Get, Param, Req } from '@nestjs/common';
import { ApiBearerAuth, ApiConflictResponse, ApiNotFoundResponse, ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import type { FastifyRequest } from 'fastify';
import { CurrentPrincipal } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { SimulationAccessDto } from '../dtos/access.dto';
import { DeploymentIdPipe } from '../http/deployment-id.pipe';
import { AccessService, SimulationAccess } from '../services/access.service';

@ApiTags('simulations')
@ApiBearerAuth()
@Controller('simulations')
export class AccessController {
  constructor(private readonly access: AccessService) {}

  @Get(':id/access')
  @ApiOperation({
    summary: "A URL and a short-lived token for the simulation's simulator",
    description:
      'While the simulation is Running, to its owner or an admin. Open a WebSocket (or send plain HTTP) to `url` with `?token=<token>`; ' +
      'the token opens connections to this simulation only, until `expiresAt` (ACCESS_TOKEN_TTL_S), and is no API token.',
  })
  @ApiOkResponse({ type: SimulationAccessDto })
  @ApiConflictResponse({ description: 'The simulation is not Running' })
  @ApiNotFoundResponse({ description: 'No such simulation, or another owner’s' })
  grant(@CurrentPrincipal() principal: Principal, @Param('id', DeploymentIdPipe) id: string, @Req() request: FastifyRequest): Promise<SimulationAccess> {
    return this.access.access(principal, id, `${request.protocol}://${request.host}`);
  }
}
