import { Controller, Get, Query, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiExtraModels, ApiHeader, ApiOkResponse, ApiOperation, ApiProduces, ApiTags, getSchemaPath } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentPrincipal } from '../auth/jwt-auth.guard';
import type { Principal } from '../auth/principal';
import { SimulationChangeMessage } from '../dtos/simulation-change.dto';
import { StreamSimulationsQuery } from '../dtos/stream-simulations.query';
import { StreamService } from '../services/stream.service';

const DESCRIPTION = [
  'Server-Sent Events: every change to your simulations (every simulation, for an admin) as it is recorded.',
  '',
  '- `event: ready` first, with `{position, resumed}`; a new client is given an `id` to resume from when the gateway has one.',
  '- `event: change` per event: `id` is the event\'s store position, `data` a SimulationChangeMessage: the event (type, data, recordedAt) and the simulation\'s view right after it.',
  '- Reconnect with `Last-Event-ID` (browsers do it by themselves) and the stream resumes right after that message: nothing missed, nothing twice, in store order.',
  '- Comments (`: keep-alive`) every SSE_HEARTBEAT_MS; one may carry an `id` alone, which moves your Last-Event-ID past changes your filters left out.',
  '- A client that does not read fast enough (more than SSE_CLIENT_BUFFER_BYTES waiting) is disconnected; it resumes with Last-Event-ID.',
  '- Filters apply to the simulation as each change left it.',
].join('\n');

@ApiTags('simulations')
@ApiBearerAuth()
@ApiExtraModels(SimulationChangeMessage)
@Controller('simulations')
export class StreamController {
  constructor(private readonly stream: StreamService) {}

  @Get('stream')
  @ApiOperation({ summary: 'Live changes of simulations (Server-Sent Events)', description: DESCRIPTION })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: 'Last-Event-ID', required: false, description: 'Resume right after the message with this id' })
  @ApiOkResponse({
    description: 'An endless text/event-stream; the data of each `change` message:',
    content: { 'text/event-stream': { schema: { $ref: getSchemaPath(SimulationChangeMessage) } } },
  })
  open(
    @CurrentPrincipal() principal: Principal,
    @Query() query: StreamSimulationsQuery,
    @Res() reply: FastifyReply,
  ): void {
    // Read here rather than with @Headers(), which would document the header as required.
    const lastEventId = reply.request.headers['last-event-id'];
    this.stream.open(principal, query, typeof lastEventId === 'string' ? lastEventId : undefined, reply);
  }
}
