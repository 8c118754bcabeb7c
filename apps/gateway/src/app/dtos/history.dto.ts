import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { ErrorStatus, Status } from '@simdeploy/domain';
import { IsOptional, IsString, Length } from 'class-validator';
import { NoControlCharacters } from './text-rules';

export class StatusIntervalDto {
  @ApiProperty({ enum: Status, example: Status.LaunchingNodes })
  status!: Status;

  @ApiProperty({ enum: ErrorStatus, nullable: true, example: null })
  errorStatus!: ErrorStatus | null;

  @ApiProperty({ example: '2026-03-01T10:00:05.000Z' })
  from!: string;

  @ApiProperty({ nullable: true, example: '2026-03-01T10:05:00.000Z', description: 'When the next interval began; null for the current one' })
  to!: string | null;

  @ApiProperty({ nullable: true, example: 295, description: 'to - from in seconds (to the millisecond); null for the current one' })
  durationSeconds!: number | null;
}

export class SimulationHistoryDto {
  @ApiProperty()
  id!: string;

  @ApiProperty({ type: [StatusIntervalDto], description: 'An interval per change of status or error status, oldest first, from the events' })
  intervals!: StatusIntervalDto[];
}

export class UsageQueryDto {
  @ApiPropertyOptional({
    example: '2026-03-01T00:00:00Z',
    description: 'Start of the period (ISO-8601, inclusive). Default: the start (UTC) of the calendar month that until falls in',
  })
  @IsOptional()
  @IsString()
  since?: string;

  @ApiPropertyOptional({ example: '2026-04-01T00:00:00Z', description: 'End of the period (ISO-8601, exclusive). Default: now' })
  @IsOptional()
  @IsString()
  until?: string;

  @ApiPropertyOptional({ example: 'alice', description: "Only this owner's machines (of those the caller may see: an admin any, others their own and their team's)" })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @NoControlCharacters()
  owner?: string;

  @ApiPropertyOptional({ example: 'robotics', description: "Only the machines of this team's simulations (of those the caller may see)" })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  @NoControlCharacters()
  team?: string;
}

export class UsageRowDto {
  @ApiProperty({ example: 'alice' })
  owner!: string;

  @ApiProperty({ example: 'g4dn.xlarge' })
  instanceType!: string;

  @ApiProperty({ example: 1740, description: 'Seconds (to the millisecond) these machines ran inside the period' })
  machineSeconds!: number;

  @ApiProperty({ example: 0.483, description: 'machineSeconds / 3600, rounded to 3 decimals' })
  machineHours!: number;

  @ApiProperty({ example: 1, description: 'Machines that ran some of the period' })
  instances!: number;
}

export class UsageDto {
  @ApiProperty({ example: '2026-03-01T00:00:00.000Z' })
  since!: string;

  @ApiProperty({ example: '2026-04-01T00:00:00.000Z' })
  until!: string;

  @ApiProperty({ description: 'Machines still running count up to here when it is before until' })
  now!: string;

  @ApiProperty({ type: [UsageRowDto], description: 'By owner, then instance type' })
  rows!: UsageRowDto[];

  @ApiProperty({ example: { machineSeconds: 1740, machineHours: 0.483, instances: 1 } })
  total!: { machineSeconds: number; machineHours: number; instances: number };
}
