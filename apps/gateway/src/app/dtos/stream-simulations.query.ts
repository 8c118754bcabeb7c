import { ApiPropertyOptional } from '@nestjs/swagger';
import { Transform } from 'class-transformer';
import { ArrayMaxSize, IsOptional, IsString, Matches } from 'class-validator';

const asList = ({ value }: { value: unknown }) => (value === undefined ? undefined : Array.isArray(value) ? value : [value]);

export class StreamSimulationsQuery {
  @ApiPropertyOptional({ example: '0b3c...,5d1e...', description: 'Only these simulations (ids, comma-separated)' })
  @IsOptional()
  @IsString()
  id?: string;

  @ApiPropertyOptional({
    example: '!Terminated',
    description: 'Only changes that leave the simulation in this status (comma-separated; a leading ! negates)',
  })
  @IsOptional()
  @IsString()
  status?: string;

  @ApiPropertyOptional({ example: 'none', description: 'Error status after the change (or none), comma-separated; a leading ! negates' })
  @IsOptional()
  @IsString()
  errorStatus?: string;

  @ApiPropertyOptional({
    type: [String],
    example: ['team=nav'],
    description: 'Only simulations with this label (key=value, or key for any value); repeat for several, all must match',
  })
  @IsOptional()
  @Transform(asList)
  @ArrayMaxSize(32)
  @IsString({ each: true })
  @Matches(/^[A-Za-z0-9][A-Za-z0-9._\-/]{0,62}(=.{0,63})?$/, { each: true, message: 'label must be key=value or key' })
  label?: string[];
}
