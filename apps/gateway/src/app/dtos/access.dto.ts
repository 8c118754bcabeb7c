import { ApiProperty } from '@nestjs/swagger';

/** OpenAPI shapes of the access and logs answers. */
export class SimulationAccessDto {
  @ApiProperty({ format: 'uuid' })
  deploymentId!: string;

  @ApiProperty({ example: 'wss://sim.example.com/simulations/<id>/connect', description: 'The simulator through the gateway: WebSocket, or plain HTTP on the same path with http(s)://' })
  url!: string;

  @ApiProperty({ description: 'Pass as the `token` query parameter; opens connections to this simulation only, until expiresAt' })
  token!: string;

  @ApiProperty({ format: 'date-time' })
  expiresAt!: string;

  @ApiProperty({ example: 'wss://sim.example.com/simulations/<id>/connect?token=<token>' })
  connectUrl!: string;
}

export class SimulationLogsDto {
  @ApiProperty({ format: 'uuid' })
  deploymentId!: string;

  @ApiProperty({ example: 'sim-<id>-gzserver' })
  pod!: string;

  @ApiProperty({ type: [String] })
  pods!: string[];

  @ApiProperty({ enum: ['runtime', 'archive', 'none'], description: 'runtime: the pod itself; archive: the copy kept at termination; none: no log was kept' })
  source!: string;

  @ApiProperty({ type: [String] })
  lines!: string[];

  @ApiProperty({ required: false, description: 'Why the archive holds nothing, when archiving failed' })
  archiveError?: string;
}
