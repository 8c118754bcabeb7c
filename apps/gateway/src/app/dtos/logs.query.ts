import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, Matches, Max, Min } from 'class-validator';

/** Archives keep a pod's last 10,000 lines (ARCHIVED_LOG_LINES); no read asks for more. */
export const MAX_LOG_TAIL = 10_000;

export class LogsQuery {
  @ApiPropertyOptional({ example: 'sim-<id>-gzserver', description: "One of the simulation's pods (its view lists them); default: the simulator's" })
  @IsOptional()
  @Matches(/^[a-z0-9]([a-z0-9.-]{0,251}[a-z0-9])?$/, { message: 'pod must be a pod name of the simulation (lower-case letters, digits, "-" and ".")' })
  pod?: string;

  @ApiPropertyOptional({ default: 100, minimum: 1, maximum: MAX_LOG_TAIL, description: 'How many of the last lines' })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'tail must be a whole number of lines' })
  @Min(1, { message: 'tail must be at least 1' })
  @Max(MAX_LOG_TAIL, { message: `tail must be at most ${MAX_LOG_TAIL}` })
  tail?: number;
}
