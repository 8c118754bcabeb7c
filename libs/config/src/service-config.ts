import { Transform } from 'class-transformer';
import { ArrayNotEmpty, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, IsUrl, Matches, Max, Min, ValidateIf } from 'class-validator';

const NATS_NAME = /^[A-Za-z0-9_-]+$/;
const SUBJECT_PREFIX = /^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*$/;

/** Settings every service shares: where NATS and the event store are. */
export class CommonConfig {
  @Matches(/^(nats|tls|wss?):\/\/[^\s]+$/, { message: 'must be a NATS URL like nats://127.0.0.1:4222' })
  NATS_URL = 'nats://127.0.0.1:4222';

  @IsIn(['jetstream', 'esdb'], { message: 'must be "jetstream" (embedded default) or "esdb"' })
  EVENT_STORE: 'jetstream' | 'esdb' = 'jetstream';

  @ValidateIf((c: CommonConfig) => c.EVENT_STORE === 'esdb')
  @Matches(/^(esdb|esdb\+discover):\/\/\S+$/, { message: 'must be an EventStoreDB connection string (esdb://...) when EVENT_STORE=esdb' })
  ESDB_CONNECTION_STRING?: string;

  @Matches(NATS_NAME, { message: 'must be a JetStream stream name (letters, digits, _ and -)' })
  EVENTS_STREAM = 'SIMDEPLOY_EVENTS';

  @Matches(SUBJECT_PREFIX, { message: 'must be a NATS subject prefix like simdeployment' })
  EVENTS_SUBJECT_PREFIX = 'simdeployment';

  @Matches(NATS_NAME, { message: 'must be a JetStream stream name (letters, digits, _ and -)' })
  COMMANDS_STREAM = 'SIMDEPLOY_COMMANDS';

  @Matches(SUBJECT_PREFIX, { message: 'must be a NATS subject prefix like simdeploy.cmd' })
  COMMANDS_SUBJECT_PREFIX = 'simdeploy.cmd';

  /** Where new simulations run unless a request names a provider. */
  @IsIn(['local', 'aws'], { message: 'must be "local" (embedded default) or "aws"' })
  PROVIDER: 'local' | 'aws' = 'local';

  @IsIn(['debug', 'log', 'warn', 'error'], { message: 'must be one of debug, log, warn, error' })
  LOG_LEVEL: 'debug' | 'log' | 'warn' | 'error' = 'log';
}

/** Settings of the services that call the providers (launcher, terminator, error handler). */
export class WorkerConfig extends CommonConfig {
  @IsInt({ message: 'must be a whole number of concurrent workers' })
  @Min(1)
  @Max(1000)
  POOL_SIZE: number = 10;

  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(1000)
  ACK_WAIT_MS: number = 30_000;

  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1)
  NODE_READY_TIMEOUT_S: number = 300;

  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1)
  POD_READY_TIMEOUT_S: number = 300;

  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(10)
  READINESS_POLL_MS: number = 1000;

  @IsInt({ message: 'must be a whole number of attempts' })
  @Min(1)
  @Max(20)
  PROVIDER_MAX_ATTEMPTS: number = 5;

  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(1)
  PROVIDER_RETRY_BASE_MS: number = 200;

  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(1)
  PROVIDER_RETRY_MAX_MS: number = 10_000;

  @IsString()
  @IsNotEmpty()
  LOCAL_STATE_DIR = '.simdeploy/local';

  @IsInt({ message: 'must be a whole number of node slots' })
  @Min(1)
  LOCAL_SLOTS: number = 1000;

  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(0)
  LOCAL_BOOT_DELAY_MS: number = 0;

  /** The simulator command, as a JSON array of strings; the bundled simulator when unset. */
  @IsOptional()
  @Transform(({ value }) => parseCommand(value))
  @IsString({ each: true, message: 'must be a JSON array of strings, e.g. ["gz","sim","-s","world.sdf"]' })
  @ArrayNotEmpty({ message: 'must be a non-empty JSON array of strings, e.g. ["gz","sim","-s","world.sdf"]' })
  SIMULATOR_COMMAND?: string[];

  @ValidateIf((c: WorkerConfig) => c.PROVIDER === 'aws')
  @IsString()
  @IsNotEmpty({ message: 'is required when PROVIDER=aws' })
  AWS_REGION?: string;

  @ValidateIf((c: WorkerConfig) => c.PROVIDER === 'aws')
  @IsNotEmpty({ message: 'is required when PROVIDER=aws' })
  EC2_CLUSTER_NAME?: string;

  @IsOptional()
  @IsUrl({ require_tld: false }, { message: 'must be a URL' })
  AWS_ENDPOINT_URL?: string;
}

function parseCommand(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    const parsed: unknown = JSON.parse(value);
    return Array.isArray(parsed) && parsed.length > 0 ? parsed : [];
  } catch {
    return [];
  }
}

export class GatewayConfig extends CommonConfig {
  @IsInt({ message: 'must be a TCP port number' })
  @Min(0)
  @Max(65535)
  PORT: number = 3000;

  @IsString()
  HOST: string = '127.0.0.1';

  /** HS256 secret for bearer tokens; at least 32 characters. */
  @ValidateIf((c: GatewayConfig) => !c.JWKS_URL)
  @IsString({ message: 'is required (or set JWKS_URL)' })
  @Matches(/^.{32,}$/, { message: 'must be at least 32 characters (or set JWKS_URL)' })
  JWT_SECRET?: string;

  @IsOptional()
  @IsUrl({ require_tld: false }, { message: 'must be an https URL of a JSON Web Key Set' })
  JWKS_URL?: string;

  @IsOptional()
  @IsString()
  JWT_ISSUER?: string;

  @IsOptional()
  @IsString()
  JWT_AUDIENCE?: string;

  @IsInt({ message: 'must be a whole number of bytes' })
  @Min(1024)
  BODY_LIMIT_BYTES: number = 64 * 1024;
}
