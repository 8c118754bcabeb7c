import { Transform } from 'class-transformer';
import { ArrayNotEmpty, IsBoolean, IsIn, IsInt, IsNotEmpty, IsOptional, IsString, IsUrl, Matches, Max, Min, ValidateBy, ValidateIf, type ValidationArguments } from 'class-validator';

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
  @IsIn(['local', 'aws', 'simulated'], { message: 'must be "local" (embedded default), "aws" or "simulated" (records only, for load tests)' })
  PROVIDER: 'local' | 'aws' | 'simulated' = 'local';

  @IsIn(['debug', 'log', 'warn', 'error'], { message: 'must be one of debug, log, warn, error' })
  LOG_LEVEL: 'debug' | 'log' | 'warn' | 'error' = 'log';
}

const AWS_REQUIRED = '(required when PROVIDER=aws or ENABLE_AWS=true)';

/** Whether this worker must be able to run deployments on AWS. */
export const awsEnabled = (c: Pick<WorkerConfig, 'PROVIDER' | 'ENABLE_AWS'>): boolean => c.PROVIDER === 'aws' || c.ENABLE_AWS === true;

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

  /** Also offer `aws` to deployments that ask for it while `local` stays the default. */
  @Transform(({ obj }: { obj: Record<string, unknown> }) => parseBoolean(obj['ENABLE_AWS']))
  @IsBoolean({ message: 'must be "true" or "false"' })
  ENABLE_AWS: boolean = false;

  @ValidateIf(awsEnabled)
  @Matches(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: `must be an AWS region like eu-west-1 ${AWS_REQUIRED}` })
  AWS_REGION?: string;

  @ValidateIf(awsEnabled)
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, { message: `must be the EKS cluster name the nodes join ${AWS_REQUIRED}` })
  EC2_CLUSTER_NAME?: string;

  /** Comma-separated; a node's index picks one round-robin. May be left to EC2_LAUNCH_TEMPLATE. */
  @ValidateIf((c: WorkerConfig) => awsEnabled(c) && (!c.EC2_LAUNCH_TEMPLATE || c.EC2_SUBNET_IDS !== undefined))
  @Transform(({ value }) => parseList(value))
  @ArrayNotEmpty({ message: `must list subnet ids, comma-separated (subnet-0abc,subnet-0def) ${AWS_REQUIRED} without EC2_LAUNCH_TEMPLATE` })
  @Matches(/^subnet-[0-9a-z]+$/, { each: true, message: 'must list subnet ids like subnet-0abc, comma-separated' })
  EC2_SUBNET_IDS?: string[];

  /** Comma-separated. May be left to EC2_LAUNCH_TEMPLATE. */
  @ValidateIf((c: WorkerConfig) => awsEnabled(c) && (!c.EC2_LAUNCH_TEMPLATE || c.EC2_SECURITY_GROUP_IDS !== undefined))
  @Transform(({ value }) => parseList(value))
  @ArrayNotEmpty({ message: `must list security group ids, comma-separated (sg-0abc,sg-0def) ${AWS_REQUIRED} without EC2_LAUNCH_TEMPLATE` })
  @Matches(/^sg-[0-9a-z]+$/, { each: true, message: 'must list security group ids like sg-0abc, comma-separated' })
  EC2_SECURITY_GROUP_IDS?: string[];

  @ValidateIf((c: WorkerConfig) => awsEnabled(c) && (!c.EC2_LAUNCH_TEMPLATE || c.EC2_IMAGE_ID !== undefined))
  @Matches(/^ami-[0-9a-z]+$/, { message: `must be an AMI id like ami-0abc (or set EC2_LAUNCH_TEMPLATE) ${AWS_REQUIRED}` })
  EC2_IMAGE_ID?: string;

  /** `lt-0abc` or a template name, optionally with `:<version>` (`:$Latest`, `:3`). */
  @IsOptional()
  @Matches(/^[A-Za-z0-9()./_-]{3,128}(:(\$Latest|\$Default|\d+))?$/, {
    message: 'must be a launch template id (lt-0abc) or name, optionally with :<version>, :$Latest or :$Default',
  })
  EC2_LAUNCH_TEMPLATE?: string;

  @ValidateIf((c: WorkerConfig) => awsEnabled(c) && (!c.EC2_LAUNCH_TEMPLATE || c.EC2_INSTANCE_PROFILE_ARN !== undefined))
  @Matches(/^arn:aws[a-z-]*:iam::\d{12}:instance-profile\/\S+$/, {
    message: `must be an instance profile ARN (arn:aws:iam::<account>:instance-profile/<name>) ${AWS_REQUIRED} without EC2_LAUNCH_TEMPLATE`,
  })
  EC2_INSTANCE_PROFILE_ARN?: string;

  /** Any EC2-compatible endpoint; the AWS default for the region when unset. */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true }, { message: 'must be a URL like http://127.0.0.1:5000' })
  AWS_ENDPOINT_URL?: string;

  @Matches(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, { message: 'must be a Kubernetes namespace name' })
  K8S_NAMESPACE = 'simdeploy';

  /** A kubeconfig file; unset means ~/.kube/config or, inside a pod, the service account. */
  @IsOptional()
  @IsString()
  @IsNotEmpty()
  KUBECONFIG?: string;

  /** Where simulators are reached from, so their network policies let the control plane in. */
  @ValidateIf(awsEnabled)
  @Matches(/^(\d{1,3}\.){3}\d{1,3}\/\d{1,2}$/, { message: `must be an IPv4 CIDR like 10.0.0.0/24 ${AWS_REQUIRED}` })
  CONTROL_PLANE_CIDR?: string;

  /** How long an instance may stay unrecorded after its node launch began before the sweep removes it; default node-ready timeout + 10 minutes. */
  @IsOptional()
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(60)
  SWEEP_LAUNCH_DEADLINE_S?: number;

  @Transform(({ obj }: { obj: Record<string, unknown> }) => parseBoolean(obj['SWEEP_DRY_RUN']))
  @IsBoolean({ message: 'must be "true" or "false"' })
  SWEEP_DRY_RUN: boolean = false;

  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(10)
  SWEEP_INTERVAL_S: number = 300;

  // The simulated provider (PROVIDER=simulated, or ENABLE_SIMULATED=true to offer it beside the default).

  /** Also offer `simulated` to deployments that ask for it. */
  @Transform(({ obj }: { obj: Record<string, unknown> }) => parseBoolean(obj['ENABLE_SIMULATED']))
  @IsBoolean({ message: 'must be "true" or "false"' })
  ENABLE_SIMULATED: boolean = false;

  /** The JetStream key-value bucket every service of the installation shares. */
  @Matches(NATS_NAME, { message: 'must be a JetStream bucket name (letters, digits, _ and -)' })
  SIMULATED_BUCKET = 'SIMDEPLOY_SIMULATED';

  /** From launch to a running machine: `30000`, `uniform:20000-40000` or `normal:30000/5000` (mean/stddev), in ms. */
  @Transform(({ value }) => parseDelay(value))
  @IsParsed(() => DELAY_SYNTAX)
  SIMULATED_BOOT_MS: DelaySetting = { kind: 'fixed', ms: 0 };

  /** From workload creation to every pod ready; same syntax as SIMULATED_BOOT_MS. */
  @Transform(({ value }) => parseDelay(value))
  @IsParsed(() => DELAY_SYNTAX)
  SIMULATED_READY_MS: DelaySetting = { kind: 'fixed', ms: 0 };

  /**
   * Comma-separated `<target>:<mode>:<rate>[:<delay ms>]`, e.g.
   * `launchNode:throttle:0.05,checkWorkload:slow:0.1:2000,boot:hang:0.01,pod:fail:0.02`.
   */
  @Transform(({ value }) => parseFaults(value))
  @IsParsed(() => FAULT_SYNTAX)
  SIMULATED_FAULTS: FaultSetting[] = [];

  /** Same seed, same delays and fates for the same machines and pods. */
  @IsInt({ message: 'must be a whole number' })
  SIMULATED_SEED: number = 1;

  /** Live simulated machines at most; unset means no limit. */
  @IsOptional()
  @IsInt({ message: 'must be a whole number of machines' })
  @Min(0)
  SIMULATED_CAPACITY?: number;
}

/** Whether this worker must be able to run deployments on the simulated provider. */
export const simulatedEnabled = (c: Pick<WorkerConfig, 'PROVIDER' | 'ENABLE_SIMULATED'>): boolean => c.PROVIDER === 'simulated' || c.ENABLE_SIMULATED === true;

export type DelaySetting = { kind: 'fixed'; ms: number } | { kind: 'uniform'; minMs: number; maxMs: number } | { kind: 'normal'; meanMs: number; stddevMs: number };

/** What the simulated provider's faults can hit: its port calls, a machine's boot, a pod's start. */
export const SIMULATED_FAULT_TARGETS = [
  'launchNode',
  'checkNodes',
  'terminateInstances',
  'terminateDeployment',
  'listManagedInstances',
  'checkNodesJoined',
  'createWorkload',
  'checkWorkload',
  'deleteWorkload',
  'deleteNodes',
  'listManagedWorkloads',
  'boot',
  'pod',
] as const;
export const SIMULATED_FAULT_MODES = ['fail', 'throttle', 'hang', 'slow'] as const;

export interface FaultSetting {
  target: (typeof SIMULATED_FAULT_TARGETS)[number];
  mode: (typeof SIMULATED_FAULT_MODES)[number];
  rate: number;
  delayMs?: number;
}

/** A value the Transform could not read, with why; IsParsed turns it into the variable's message. */
class Unparsed {
  constructor(
    readonly text: string,
    readonly problem: string,
  ) {}
}

const DELAY_SYNTAX = 'milliseconds (30000), uniform:<min>-<max> or normal:<mean>/<stddev>';
const FAULT_SYNTAX =
  `comma-separated <target>:<mode>:<rate>[:<delay ms>] with target one of ${SIMULATED_FAULT_TARGETS.join(', ')}, ` +
  `mode one of ${SIMULATED_FAULT_MODES.join(', ')}, rate from 0 to 1, a delay for slow`;

/** `syntax` is read when a value is validated: the decorators run before the constants below exist. */
function IsParsed(syntax: () => string): PropertyDecorator {
  return ValidateBy({
    name: 'isParsed',
    validator: {
      validate: (value: unknown) => !(value instanceof Unparsed) && typeof value === 'object' && value !== null,
      defaultMessage: (args?: ValidationArguments) => {
        const value: unknown = args?.value;
        return value instanceof Unparsed ? `must be ${syntax()}: ${value.problem}` : `must be ${syntax()}`;
      },
    },
  });
}

const WHOLE = /^\d+$/;

function parseDelay(value: unknown): unknown {
  if (value === undefined) return { kind: 'fixed', ms: 0 };
  if (typeof value === 'number') return value >= 0 && Number.isInteger(value) ? { kind: 'fixed', ms: value } : new Unparsed(String(value), 'not a whole number of ms');
  if (typeof value !== 'string') return value;
  const text = value.trim();
  const fixed = /^(?:fixed:)?(\d+)$/.exec(text);
  if (fixed) return { kind: 'fixed', ms: Number(fixed[1]) };
  const uniform = /^uniform:(\d+)-(\d+)$/.exec(text);
  if (uniform) {
    const [minMs, maxMs] = [Number(uniform[1]), Number(uniform[2])];
    return minMs <= maxMs ? { kind: 'uniform', minMs, maxMs } : new Unparsed(text, `the minimum ${minMs} is above the maximum ${maxMs}`);
  }
  const normal = /^normal:(\d+)\/(\d+)$/.exec(text);
  if (normal) return { kind: 'normal', meanMs: Number(normal[1]), stddevMs: Number(normal[2]) };
  return new Unparsed(text, `cannot read "${text}"`);
}

function parseFaults(value: unknown): unknown {
  if (value === undefined) return [];
  if (typeof value !== 'string') return value;
  const faults: FaultSetting[] = [];
  for (const entry of value.split(',').map((item) => item.trim()).filter((item) => item !== '')) {
    const [target = '', mode = '', rateText = '', delayText, ...rest] = entry.split(':');
    const problem = (why: string) => new Unparsed(value, `"${entry}": ${why}`);
    if (!(SIMULATED_FAULT_TARGETS as readonly string[]).includes(target)) return problem(`unknown target "${target}"`);
    if (!(SIMULATED_FAULT_MODES as readonly string[]).includes(mode)) return problem(`unknown mode "${mode}"`);
    const rate = Number(rateText);
    if (rateText === '' || !Number.isFinite(rate) || rate < 0 || rate > 1) return problem(`the rate "${rateText}" is not between 0 and 1`);
    if (rest.length > 0) return problem('too many parts');
    if (mode === 'slow' && (delayText === undefined || !WHOLE.test(delayText))) return problem('slow needs a delay in whole milliseconds');
    if (mode !== 'slow' && delayText !== undefined) return problem('only slow takes a delay');
    if (mode === 'throttle' && (target === 'boot' || target === 'pod')) return problem('a machine boot or a pod start cannot be throttled');
    faults.push({ target: target as FaultSetting['target'], mode: mode as FaultSetting['mode'], rate, ...(delayText === undefined ? {} : { delayMs: Number(delayText) }) });
  }
  return faults;
}

function parseBoolean(value: unknown): unknown {
  if (value === undefined || typeof value === 'boolean') return value ?? false;
  const text = String(value).trim().toLowerCase();
  return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : value;
}

function parseList(value: unknown): unknown {
  return typeof value === 'string'
    ? value
        .split(',')
        .map((item) => item.trim())
        .filter((item) => item !== '')
    : value;
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
