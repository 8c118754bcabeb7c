import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import { IsBoolean, IsInt, IsOptional, IsString, Length, Max, Min } from 'class-validator';
import { NoControlCharacters } from './text-rules';

export class ListSimulationsQuery {
  @ApiPropertyOptional({ example: '!Terminated', description: 'Status, comma-separated; a leading ! negates' })
  @IsOptional()
  @IsString()
  status?: string;

  @ApiPropertyOptional({ example: 'AdminReview', description: 'Error status (or none), comma-separated; a leading ! negates' })
  @IsOptional()
  @IsString()
  errorStatus?: string;

  @ApiPropertyOptional({ example: 'alice', description: "Only this owner's simulations (of those the caller may see)" })
  @IsOptional()
  @IsString()
  @Length(1, 200)
  @NoControlCharacters()
  owner?: string;

  @ApiPropertyOptional({ example: 'robotics', description: "Only this team's simulations (of those the caller may see)" })
  @IsOptional()
  @IsString()
  @Length(1, 128)
  @NoControlCharacters()
  team?: string;

  @ApiPropertyOptional({ default: 50, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ example: 'team=nav,env=prod', description: 'Only simulations with all these labels (key=value, comma-separated)' })
  @IsOptional()
  @IsString()
  labels?: string;

  @ApiPropertyOptional({ example: '2025-01-01T00:00:00Z', description: 'Only simulations requested at or after this time (ISO-8601)' })
  @IsOptional()
  @IsString()
  requestedFrom?: string;

  @ApiPropertyOptional({ example: '2025-02-01T00:00:00Z', description: 'Only simulations requested before this time (ISO-8601)' })
  @IsOptional()
  @IsString()
  requestedTo?: string;

  @ApiPropertyOptional({ description: 'The nextCursor of the previous page: the page after it, whatever was launched meanwhile' })
  @IsOptional()
  @IsString()
  cursor?: string;

  @ApiPropertyOptional({
    default: 0,
    deprecated: true,
    description: 'Deprecated: use cursor. Skips this many matches (each one read and thrown away); ignored with a cursor',
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;

  @ApiPropertyOptional({
    default: false,
    description: 'Count every match even when labels or a time range are filtered on (a scan); otherwise total is given only when it is cheap',
  })
  @IsOptional()
  @Transform(({ value }) => (value === 'true' || value === true ? true : value === 'false' || value === false ? false : value))
  @IsBoolean({ message: 'includeTotal must be true or false' })
  includeTotal?: boolean;
}
