import { ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsInt, IsOptional, IsString, Max, Min } from 'class-validator';

export class ListSimulationsQuery {
  @ApiPropertyOptional({ example: '!Terminated', description: 'Status, comma-separated; a leading ! negates' })
  @IsOptional()
  @IsString()
  status?: string;

  @ApiPropertyOptional({ example: 'AdminReview', description: 'Error status (or none), comma-separated; a leading ! negates' })
  @IsOptional()
  @IsString()
  errorStatus?: string;

  @ApiPropertyOptional({ default: 50, maximum: 500 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(1)
  @Max(500)
  limit?: number;

  @ApiPropertyOptional({ default: 0 })
  @IsOptional()
  @Type(() => Number)
  @IsInt()
  @Min(0)
  offset?: number;
}
