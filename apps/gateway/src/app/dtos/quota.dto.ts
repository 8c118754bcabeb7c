import { ApiPropertyOptional } from '@nestjs/swagger';
import { IsInt, IsOptional, Max, Min } from 'class-validator';

/** PUT /admin/quotas/...: null is "no limit", a field left out is the configured default. */
export class SetQuotaDto {
  @ApiPropertyOptional({ type: 'integer', nullable: true, minimum: 0, example: 10, description: 'Simulations active at once (null: no limit; omitted: QUOTA_MAX_ACTIVE)' })
  @IsOptional()
  @IsInt({ message: 'maxActive must be a whole number of simulations, or null for no limit' })
  @Min(0)
  @Max(1_000_000)
  maxActive?: number | null;

  @ApiPropertyOptional({ type: 'integer', nullable: true, minimum: 0, example: 50, description: 'Launches waiting in line (null: no limit; omitted: QUOTA_MAX_QUEUED)' })
  @IsOptional()
  @IsInt({ message: 'maxQueued must be a whole number of launches, or null for no limit' })
  @Min(0)
  @Max(1_000_000)
  maxQueued?: number | null;
}
