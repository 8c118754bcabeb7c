import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { ArrayMaxSize, ArrayMinSize, IsArray, IsInt, IsObject, IsOptional, IsString, Length, Max, Min, ValidateNested } from 'class-validator';
import { IsLabels, LaunchSimulationDto } from './launch-simulation.dto';
import { NoControlCharacters } from './text-rules';

export const MAX_BATCH = 100;

/** POST /simulations/batch: a list of launches, or one launch and how many of it. */
export class LaunchBatchDto {
  @ApiPropertyOptional({ type: [LaunchSimulationDto], description: `1 to ${MAX_BATCH} launches (or give simulation and count)` })
  @IsOptional()
  @IsArray()
  @ArrayMinSize(1)
  @ArrayMaxSize(MAX_BATCH)
  @ValidateNested({ each: true })
  @Type(() => LaunchSimulationDto)
  simulations?: LaunchSimulationDto[];

  @ApiPropertyOptional({ type: LaunchSimulationDto, description: 'One launch, `count` times' })
  @IsOptional()
  @ValidateNested()
  @Type(() => LaunchSimulationDto)
  simulation?: LaunchSimulationDto;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: MAX_BATCH, example: 20 })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(MAX_BATCH)
  count?: number;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { experiment: 'grasp-42' }, description: 'Labels for every launch of the batch, on top of their own' })
  @IsOptional()
  @IsObject()
  @IsLabels()
  labels?: Record<string, string>;
}

/** POST /simulations/stop: which of the caller's simulations to stop. */
export class StopSimulationsDto {
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { 'simdeploy.io/batch': '3f2a9c0d1e2b4a5c6d7e' }, description: 'Only simulations with all these labels' })
  @IsOptional()
  @IsObject()
  @IsLabels()
  labels?: Record<string, string>;

  @ApiPropertyOptional({ example: 'Pending', description: 'Only simulations in these statuses, comma-separated; a leading ! negates. Those over or stopping already are never stopped again' })
  @IsOptional()
  @IsString()
  @Length(1, 300)
  status?: string;

  @ApiPropertyOptional({ example: 'alice', description: "Only this owner's simulations (of those the caller may stop)" })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @NoControlCharacters()
  owner?: string;

  @ApiPropertyOptional({ example: 'robotics', description: "Only this team's simulations (of those the caller may stop)" })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  @NoControlCharacters()
  team?: string;
}

export class BatchLaunchedDto {
  @ApiProperty({ example: '3f2a9c0d1e2b4a5c6d7e' })
  batch!: string;

  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, example: { 'simdeploy.io/batch': '3f2a9c0d1e2b4a5c6d7e' } })
  labels!: Record<string, string>;

  @ApiProperty({ type: [String], description: 'In the order of the request' })
  ids!: string[];

  @ApiProperty({ type: 'array', items: { type: 'object' }, description: 'Each simulation as GET /simulations/:id shows it' })
  simulations!: object[];
}

export class StoppedSimulationsDto {
  @ApiProperty({ type: [String], description: 'Simulations this request stopped' })
  stopped!: string[];

  @ApiProperty({ type: [String], description: 'Matches that were stopping already' })
  alreadyStopping!: string[];

  @ApiProperty({ description: 'More matched than one request stops (1000): send it again' })
  more!: boolean;
}
