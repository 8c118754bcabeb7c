import { ApiProperty } from '@nestjs/swagger';

export class RecordedEventSummary {
  @ApiProperty({ example: 'SimulationRunning' })
  type!: string;

  @ApiProperty({ type: 'object', additionalProperties: true, example: { at: '2026-11-28T10:00:04.000Z' } })
  data!: object;

  @ApiProperty({ example: '2026-11-28T10:00:04.012Z' })
  recordedAt!: string;
}

/** The data of one `change` message of GET /simulations/stream (documentation only). */
export class SimulationChangeMessage {
  @ApiProperty({ example: '42000', description: "The event's store position; also the message's SSE id" })
  position!: string;

  @ApiProperty({ example: '0b3c6a52-8f1d-4c36-9d8e-2f5b1a7c9e10' })
  deploymentId!: string;

  @ApiProperty({ example: '42', description: 'The stream revision the event brought the simulation to' })
  revision!: string;

  @ApiProperty({ type: RecordedEventSummary })
  event!: RecordedEventSummary;

  @ApiProperty({
    type: 'object',
    additionalProperties: true,
    description: 'The simulation as GET /simulations/{id} shows it, right after this event',
  })
  view!: object;
}
