import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import {
  ArrayMaxSize,
  IsArray,
  IsIn,
  IsInt,
  IsObject,
  IsOptional,
  IsString,
  Length,
  Matches,
  Max,
  Min,
  ValidateNested,
  ValidationArguments,
  registerDecorator,
} from 'class-validator';
import { IsImageReference, NoControlCharacters, hasControlCharacters } from './text-rules';

const DNS_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_KEY = /^[A-Za-z0-9]([A-Za-z0-9._\-/]{0,61}[A-Za-z0-9])?$/;
/** Kubernetes quantities as pods take them: `2`, `500m`, `8Gi`, `1.5`. */
const CPU = /^([0-9]{1,4}(\.[0-9]{1,3})?|[0-9]{1,6}m)$/;
const MEMORY = /^[0-9]{1,7}(Ki|Mi|Gi|Ti|K|M|G|T)?$/;

/** Labels: at most 32 string pairs, keys like Kubernetes label keys, values up to 63 characters. */
export function IsLabels() {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isLabels',
      target: target.constructor,
      propertyName,
      validator: {
        validate(value: unknown) {
          if (typeof value !== 'object' || value === null || Array.isArray(value)) return false;
          const entries = Object.entries(value);
          return (
            entries.length <= 32 &&
            entries.every(([k, v]) => LABEL_KEY.test(k) && typeof v === 'string' && v.length <= 63 && !hasControlCharacters(v))
          );
        },
        defaultMessage: (args?: ValidationArguments) =>
          `${args?.property ?? 'labels'} must be an object of at most 32 string values (keys: letters, digits, . _ - /; values: up to 63 characters, no control characters)`,
      },
    });
}

export class RobotDto {
  @ApiProperty({ example: 'x1', description: 'Lower-case DNS label, unique in the simulation' })
  @IsString()
  @Length(1, 40)
  @Matches(DNS_LABEL, { message: 'name must be a lower-case DNS label (a-z, 0-9, -)' })
  name!: string;

  @ApiProperty({ example: 'ghcr.io/acme/robot:1.2' })
  @IsString()
  @Length(1, 512)
  @IsImageReference()
  image!: string;
}

export class ResourceRequestDto {
  @ApiPropertyOptional({ example: '2', description: 'CPU, as Kubernetes counts it: cores (2, 1.5) or millicores (500m)' })
  @IsOptional()
  @IsString()
  @Matches(CPU, { message: 'cpu must be cores like 2 or 1.5, or millicores like 500m' })
  cpu?: string;

  @ApiPropertyOptional({ example: '8Gi', description: 'Memory: bytes, or with a unit (Ki, Mi, Gi, Ti, K, M, G, T)' })
  @IsOptional()
  @IsString()
  @Matches(MEMORY, { message: 'memory must be a quantity like 8Gi or 512Mi' })
  memory?: string;

  @ApiPropertyOptional({ example: 1, description: 'Whole GPUs (nvidia.com/gpu)' })
  @IsOptional()
  @IsInt()
  @Min(0)
  @Max(16)
  gpu?: number;
}

export class ResourcesDto {
  @ApiPropertyOptional({ type: ResourceRequestDto, description: 'The simulator pod' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ResourceRequestDto)
  simulator?: ResourceRequestDto;

  @ApiPropertyOptional({ type: ResourceRequestDto, description: 'Each robot pod' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ResourceRequestDto)
  robot?: ResourceRequestDto;
}

export class LaunchSimulationDto {
  @ApiProperty({ example: 'worlds/warehouse.sdf', description: 'The world the simulator loads' })
  @IsString()
  @Length(1, 255)
  @NoControlCharacters()
  world!: string;

  @ApiProperty({ example: 'gazebo/gz-sim:harmonic', description: 'Simulator (Gazebo server) image' })
  @IsString()
  @Length(1, 512)
  @IsImageReference()
  image!: string;

  @ApiProperty({ type: [RobotDto] })
  @IsArray()
  @ArrayMaxSize(16)
  @ValidateNested({ each: true })
  @Type(() => RobotDto)
  robots!: RobotDto[];

  @ApiProperty({ example: 'g4dn.xlarge', description: 'Instance type of the machines' })
  @IsString()
  @Matches(/^[a-z0-9-]+\.[a-z0-9-]+$/, { message: 'nodeInstanceType must look like g4dn.xlarge' })
  nodeInstanceType!: string;

  @ApiPropertyOptional({ type: 'integer', minimum: 1, maximum: 7 * 24 * 3600, example: 3600, description: 'Stop automatically this many seconds after Running' })
  @IsOptional()
  @IsInt()
  @Min(1)
  @Max(7 * 24 * 3600)
  maxDurationSeconds?: number;

  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' }, example: { team: 'navigation' }, description: 'Up to 32 key=value pairs' })
  @IsOptional()
  @IsObject()
  @IsLabels()
  labels?: Record<string, string>;

  @ApiPropertyOptional({ type: ResourcesDto, description: 'Requests and limits per pod; the runtime\'s defaults for the instance type otherwise' })
  @IsOptional()
  @ValidateNested()
  @Type(() => ResourcesDto)
  resources?: ResourcesDto;

  @ApiPropertyOptional({ enum: ['local', 'aws', 'simulated'], example: 'local', description: 'Where to run it; the configured default when omitted' })
  @IsOptional()
  @IsIn(['local', 'aws', 'simulated'], { message: 'provider must be one of local, aws, simulated' })
  provider?: 'local' | 'aws' | 'simulated';
}
