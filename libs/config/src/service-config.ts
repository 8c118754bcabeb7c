import { Transform } from 'class-transformer';
import {
  ArrayNotEmpty,
  IsArray,
  IsBase64,
  IsBoolean,
  IsIn,
  IsInt,
  IsNotEmpty,
  IsObject,
  IsOptional,
  IsString,
  IsUrl,
  Matches,
  Max,
  Min,
  registerDecorator,
  ValidateBy,
  ValidateIf,
  type ValidationArguments,
} from 'class-validator';

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

  /**
   * Simulations an owner (or team, see TEAM_CLAIM) may have active at once; launches beyond wait
   * in line, first come first served. Unset: no limit (an admin may still set one per owner).
   */
  @IsOptional()
  @IsInt({ message: 'must be a whole number of simulations' })
  @Min(1)
  QUOTA_MAX_ACTIVE?: number;

  /** Launches an owner may have waiting in line; one more is Rejected with the reason. Unset: no limit. */
  @IsOptional()
  @IsInt({ message: 'must be a whole number of launches' })
  @Min(0)
  QUOTA_MAX_QUEUED?: number;

  /**
   * Machines at once per provider and instance type, comma-separated: `aws:g4dn.xlarge=20,aws:*=100`
   * (`*` is every other type of the provider). Launches beyond wait in line for machines.
   */
  @IsOptional()
  @Transform(({ value }) => parseCapacity(value))
  @ValidateBy({
    name: 'isCapacityLimits',
    validator: {
      validate: (value: unknown) => typeof value === 'object' && value !== null && !Array.isArray(value),
      defaultMessage: () => 'must be comma-separated <provider>:<instance type or *>=<machines>, e.g. aws:g4dn.xlarge=20,aws:*=100',
    },
  })
  CAPACITY_LIMITS?: Record<string, number>;

  /** Where the pods' logs are archived before a workload is deleted, so they stay readable after the end. */
  @IsString()
  @IsNotEmpty()
  LOG_ARCHIVE_DIR = '.simdeploy/logs';

  @IsIn(['debug', 'log', 'warn', 'error'], { message: 'must be one of debug, log, warn, error' })
  LOG_LEVEL: 'debug' | 'log' | 'warn' | 'error' = 'log';

  /** An OpenTelemetry collector's OTLP/HTTP base URL; spans are exported only when it is set. */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'must be the http(s) URL of an OTLP collector, e.g. http://otel-collector:4318' })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  /**
   * Where the read model (lists, views, the reconciler's active deployments) lives: a SQLite
   * file (the embedded default; the gateway writes it, the error handler reads it) or
   * PostgreSQL shared by every replica in production.
   */
  @Matches(/^(sqlite:.+|postgres(ql)?:\/\/\S+)$/, { message: 'must be sqlite:PATH (embedded default) or a postgres://user@host:5432/db URL' })
  READ_MODEL_URL = 'sqlite:.simdeploy/read-model.sqlite';
}

const AWS_REQUIRED = '(required when PROVIDER=aws or ENABLE_AWS=true)';
const CIDR = /^((\d{1,3}\.){3}\d{1,3}|[0-9a-fA-F:]+)\/\d{1,3}$/;
const AL2023_REQUIRED = '(required for EC2_NODE_BOOTSTRAP=al2023, the default, when PROVIDER=aws or ENABLE_AWS=true)';

/** Whether this worker must be able to run deployments on AWS. */
export const awsEnabled = (c: Pick<ProviderConfig, 'PROVIDER' | 'ENABLE_AWS'>): boolean => c.PROVIDER === 'aws' || c.ENABLE_AWS === true;

/** A cluster setting is checked when given, and required when nodeadm (AL2023) needs it. */
const clusterSettingNeeded =
  (name: 'EC2_CLUSTER_ENDPOINT' | 'EC2_CLUSTER_CA' | 'EC2_CLUSTER_SERVICE_CIDR') =>
  (c: ProviderConfig): boolean =>
    c[name] !== undefined || (awsEnabled(c) && c.EC2_NODE_BOOTSTRAP === 'al2023');

/** Where simulations run and where their logs are kept: read by the workers, which run them, and the gateway, which reaches them. */
export class ProviderConfig extends CommonConfig {
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

  @ValidateIf((c: ProviderConfig) => awsEnabled(c) || c.LOG_ARCHIVE_S3_BUCKET !== undefined)
  @Matches(/^[a-z]{2}(-[a-z]+)+-\d+$/, { message: `must be an AWS region like eu-west-1 ${AWS_REQUIRED.slice(0, -1)}, or LOG_ARCHIVE_S3_BUCKET is set)` })
  AWS_REGION?: string;

  @ValidateIf(awsEnabled)
  @Matches(/^[A-Za-z0-9][A-Za-z0-9_-]{0,99}$/, { message: `must be the EKS cluster name the nodes join ${AWS_REQUIRED}` })
  EC2_CLUSTER_NAME?: string;

  /**
   * This installation among others in the same account and region (staging, production):
   * tagged on every instance and volume; the sweep and terminations touch only its own.
   */
  @ValidateIf(awsEnabled)
  @Matches(/^[a-z0-9]([a-z0-9-]{0,30}[a-z0-9])?$/, {
    message: `must name this installation, 1-32 lower-case letters, digits and - (e.g. prod-eu), unique in the AWS account and region ${AWS_REQUIRED}`,
  })
  INSTALLATION_ID?: string;

  /** How nodes join the cluster: nodeadm on AL2023 images, bootstrap.sh on AL2 images, or the launch template's own user data. */
  @IsIn(['al2023', 'al2', 'launch-template'], {
    message: 'must be "al2023" (default: nodeadm NodeConfig), "al2" (/etc/eks/bootstrap.sh) or "launch-template" (the launch template\'s own user data)',
  })
  EC2_NODE_BOOTSTRAP: 'al2023' | 'al2' | 'launch-template' = 'al2023';

  /** `aws eks describe-cluster --query cluster.endpoint`. */
  @ValidateIf(clusterSettingNeeded('EC2_CLUSTER_ENDPOINT'))
  @IsUrl({ protocols: ['https'], require_protocol: true, require_tld: false }, { message: `must be the https URL of the EKS API server ${AL2023_REQUIRED}` })
  EC2_CLUSTER_ENDPOINT?: string;

  /** `aws eks describe-cluster --query cluster.certificateAuthority.data`. */
  @ValidateIf(clusterSettingNeeded('EC2_CLUSTER_CA'))
  @IsBase64(undefined, { message: `must be the cluster's certificate authority data, base64 as describe-cluster gives it ${AL2023_REQUIRED}` })
  EC2_CLUSTER_CA?: string;

  /** `aws eks describe-cluster --query cluster.kubernetesNetworkConfig.serviceIpv4Cidr` (or serviceIpv6Cidr). */
  @ValidateIf(clusterSettingNeeded('EC2_CLUSTER_SERVICE_CIDR'))
  @Matches(/^((\d{1,3}\.){3}\d{1,3}\/\d{1,2}|[0-9a-fA-F:]+:[0-9a-fA-F:]*\/\d{1,3})$/, {
    message: `must be the cluster's service CIDR, e.g. 172.20.0.0/16 ${AL2023_REQUIRED}`,
  })
  EC2_CLUSTER_SERVICE_CIDR?: string;

  /** Comma-separated; a node's index picks one round-robin. May be left to EC2_LAUNCH_TEMPLATE. */
  @ValidateIf((c: ProviderConfig) => awsEnabled(c) && (!c.EC2_LAUNCH_TEMPLATE || c.EC2_SUBNET_IDS !== undefined))
  @Transform(({ value }) => parseList(value))
  @ArrayNotEmpty({ message: `must list subnet ids, comma-separated (subnet-0abc,subnet-0def) ${AWS_REQUIRED} without EC2_LAUNCH_TEMPLATE` })
  @Matches(/^subnet-[0-9a-z]+$/, { each: true, message: 'must list subnet ids like subnet-0abc, comma-separated' })
  EC2_SUBNET_IDS?: string[];

  /** Comma-separated. May be left to EC2_LAUNCH_TEMPLATE. */
  @ValidateIf((c: ProviderConfig) => awsEnabled(c) && (!c.EC2_LAUNCH_TEMPLATE || c.EC2_SECURITY_GROUP_IDS !== undefined))
  @Transform(({ value }) => parseList(value))
  @ArrayNotEmpty({ message: `must list security group ids, comma-separated (sg-0abc,sg-0def) ${AWS_REQUIRED} without EC2_LAUNCH_TEMPLATE` })
  @Matches(/^sg-[0-9a-z]+$/, { each: true, message: 'must list security group ids like sg-0abc, comma-separated' })
  EC2_SECURITY_GROUP_IDS?: string[];

  @ValidateIf((c: ProviderConfig) => awsEnabled(c) && (!c.EC2_LAUNCH_TEMPLATE || c.EC2_IMAGE_ID !== undefined))
  @Matches(/^ami-[0-9a-z]+$/, { message: `must be an AMI id like ami-0abc (or set EC2_LAUNCH_TEMPLATE) ${AWS_REQUIRED}` })
  EC2_IMAGE_ID?: string;

  /** `lt-0abc` or a template name, optionally with `:<version>` (`:$Latest`, `:3`). */
  @ValidateIf((c: ProviderConfig) => c.EC2_LAUNCH_TEMPLATE !== undefined || (awsEnabled(c) && c.EC2_NODE_BOOTSTRAP === 'launch-template'))
  @Matches(/^[A-Za-z0-9()./_-]{3,128}(:(\$Latest|\$Default|\d+))?$/, {
    message:
      'must be a launch template id (lt-0abc) or name, optionally with :<version>, :$Latest or :$Default ' +
      '(required when EC2_NODE_BOOTSTRAP=launch-template: its user data joins the nodes)',
  })
  EC2_LAUNCH_TEMPLATE?: string;

  @ValidateIf((c: ProviderConfig) => awsEnabled(c) && (!c.EC2_LAUNCH_TEMPLATE || c.EC2_INSTANCE_PROFILE_ARN !== undefined))
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

  /** Deprecated: a CIDR let in to simulators' ports. Prefer K8S_SIMULATOR_CLIENTS: on EKS a VPC range covers every pod. */
  @IsOptional()
  @Matches(CIDR, { message: 'must be a CIDR like 10.0.0.0/24 (deprecated: prefer K8S_SIMULATOR_CLIENTS)' })
  CONTROL_PLANE_CIDR?: string;

  /**
   * Pods that may open a simulator's port, as a JSON array of NetworkPolicy peers
   * (`[{"namespaceSelector":{...},"podSelector":{...}}]`); default: the gateway in namespace simdeploy.
   */
  @IsOptional()
  @Transform(({ value }) => parseJson(value))
  @IsArray({ message: 'must be a JSON array of {"namespaceSelector": ..., "podSelector": ...} peers' })
  @IsObject({ each: true, message: 'must be a JSON array of {"namespaceSelector": ..., "podSelector": ...} peers' })
  K8S_SIMULATOR_CLIENTS?: Record<string, unknown>[];

  /** Destinations simulation pods may reach besides DNS and their own pods: JSON `[{"cidr":"203.0.113.0/24","ports":[{"port":443}]}]`. */
  @IsOptional()
  @Transform(({ value }) => parseJson(value))
  @IsArray({ message: 'must be a JSON array of {"cidr": "...", "ports": [{"port": 443}]} destinations' })
  @IsObject({ each: true, message: 'must be a JSON array of {"cidr": "...", "ports": [{"port": 443}]} destinations' })
  K8S_ALLOWED_EGRESS?: { cidr: string; ports?: { protocol?: 'TCP' | 'UDP' | 'SCTP'; port: number; endPort?: number }[] }[];

  /** The API server's addresses, cut out of every allowed destination (comma-separated CIDRs). */
  @IsOptional()
  @Transform(({ value }) => parseList(value))
  @Matches(CIDR, { each: true, message: 'must list CIDRs like 10.100.0.1/32, comma-separated' })
  K8S_API_SERVER_CIDRS?: string[];

  /** More ranges cut out of every allowed destination, e.g. the VPC's (comma-separated CIDRs). */
  @IsOptional()
  @Transform(({ value }) => parseList(value))
  @Matches(CIDR, { each: true, message: 'must list CIDRs like 10.0.0.0/16, comma-separated' })
  K8S_DENIED_EGRESS_CIDRS?: string[];

  /** Secrets in the simulations' namespace that images are pulled with (comma-separated names). */
  @IsOptional()
  @Transform(({ value }) => parseList(value))
  @Matches(/^[a-z0-9]([-a-z0-9.]{0,251}[a-z0-9])?$/, { each: true, message: 'must list Secret names, comma-separated' })
  K8S_IMAGE_PULL_SECRETS?: string[];

  /** Refuse simulation images that run as root (off by default: common ROS and Gazebo images do). */
  @Transform(({ obj }: { obj: Record<string, unknown> }) => parseBoolean(obj['K8S_RUN_AS_NON_ROOT']))
  @IsBoolean({ message: 'must be "true" or "false"' })
  K8S_RUN_AS_NON_ROOT: boolean = false;

  /** Pods still Terminating this long after their grace period on a lost node are force-deleted. */
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(0)
  K8S_FORCE_DELETE_AFTER_S: number = 60;

  /** How long a node drain waits for evicted pods before the node is deleted anyway; keep it below POD_READY_TIMEOUT_S. */
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1)
  K8S_DRAIN_TIMEOUT_S: number = 180;

  /** ImagePullBackOff for a cause that may pass fails the launch after this many kubelet back-offs. */
  @IsInt({ message: 'must be a whole number of back-offs' })
  @Min(1)
  K8S_IMAGE_PULL_BACKOFF_LIMIT: number = 4;

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

  /** An S3 bucket for the pods' archived logs instead of LOG_ARCHIVE_DIR (in AWS_REGION). */
  @IsOptional()
  @Matches(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { message: 'must be an S3 bucket name (3 to 63 lower-case letters, digits, "." and "-")' })
  LOG_ARCHIVE_S3_BUCKET?: string;

  /** Where in LOG_ARCHIVE_S3_BUCKET: objects are `<prefix><deployment id>/<pod>.log`. */
  @Matches(/^[A-Za-z0-9!_.*'()/-]{1,512}$/, { message: 'must be an S3 key prefix of letters, digits and !_.*\'()/- such as simdeploy/logs/' })
  LOG_ARCHIVE_S3_PREFIX = 'simdeploy/logs/';
}

/** Settings of the services that call the providers (launcher, terminator, error handler). */
export class WorkerConfig extends ProviderConfig {
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

  /** A launch waiting in an admission line is looked at on its own at least this often (it is woken when admitted). */
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1)
  QUEUE_RECHECK_S: number = 300;

  /** How soon a launch that met a provider's capacity or limit error tries again, until its node-ready deadline. */
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1)
  CAPACITY_RETRY_S: number = 15;

  /** How often running simulations are checked for pods that exited, all in one batched provider call. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(10)
  HEALTH_POLL_MS: number = 5_000;

  /** A running simulation is also checked on its own at least this often (in case a batched check missed it). */
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1)
  HEALTH_RECHECK_S: number = 300;

  /** One replica of each service leads its periodic work (timers, and for the error handler everything); a standby takes over about this long after it died. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(1_000)
  LEADER_LEASE_TTL_MS: number = 6_000;

  @Matches(/^[A-Za-z0-9_-]+$/, { message: 'must be a KV bucket name (letters, digits, _ and -)' })
  LEADER_LEASE_BUCKET = 'simdeploy_leases';

  /** The worker's HTTP port for /metrics, /health and /health/ready; 0 (the default) opens none. */
  @IsInt({ message: 'must be a TCP port number (0: no metrics and health port)' })
  @Min(0)
  @Max(65535)
  METRICS_PORT: number = 0;

  @IsString()
  @IsNotEmpty()
  METRICS_HOST: string = '127.0.0.1';

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
}

/** Whether this worker must be able to run deployments on the simulated provider. */
export const simulatedEnabled = (c: Pick<ProviderConfig, 'PROVIDER' | 'ENABLE_SIMULATED'>): boolean => c.PROVIDER === 'simulated' || c.ENABLE_SIMULATED === true;

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

/** The error handler's own settings: the reconciler's pace. */
export class ErrorHandlerConfig extends WorkerConfig {
  /** How often the active error handler looks for deployments whose command was lost. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(100)
  RECONCILE_INTERVAL_MS: number = 5_000;

  /** How long a deployment must be unchanged before a missing command counts as lost. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(0)
  RECONCILE_GRACE_MS: number = 5_000;
}

function parseBoolean(value: unknown): unknown {
  if (value === undefined || typeof value === 'boolean') return value ?? false;
  const text = String(value).trim().toLowerCase();
  return text === 'true' || text === '1' ? true : text === 'false' || text === '0' ? false : value;
}

/** `aws:g4dn.xlarge=20,local:*=5` -> { 'aws:g4dn.xlarge': 20, 'local:*': 5 }; anything malformed stays a string (and fails validation). */
function parseCapacity(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  const limits: Record<string, number> = {};
  for (const entry of value.split(',').map((e) => e.trim()).filter(Boolean)) {
    const match = /^([a-z0-9-]+:(\*|[a-z0-9-]+\.[a-z0-9-]+))=(\d+)$/.exec(entry);
    if (!match) return value;
    limits[match[1] as string] = Number(match[3]);
  }
  return limits;
}

function parseJson(value: unknown): unknown {
  if (typeof value !== 'string') return value;
  try {
    return JSON.parse(value) as unknown;
  } catch {
    return value;
  }
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

/** The gateway's settings; the provider settings tell it where simulators listen and where their logs are. */
export class GatewayConfig extends ProviderConfig {
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

  /**
   * The token claim that names the caller's team (`org`, say, or a namespaced URL): members see
   * and stop each other's simulations, and limits and queues apply per team. Unset: per owner.
   */
  @IsOptional()
  @Matches(/^\S{1,200}$/, { message: 'must be the name of a token claim, e.g. org' })
  TEAM_CLAIM?: string;

  /** Requests per caller (token subject) in each RATE_LIMIT_WINDOW_S on this gateway; more get 429 with Retry-After. 0: off. */
  @IsInt({ message: 'must be a whole number of requests (0 turns the limit off)' })
  @Min(0)
  RATE_LIMIT_MAX: number = 1200;

  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(1)
  @Max(3600)
  RATE_LIMIT_WINDOW_S: number = 60;

  /** Whether callers with the admin role are exempt from RATE_LIMIT_MAX. */
  @Transform(({ obj }: { obj: Record<string, unknown> }) => parseBoolean(obj['RATE_LIMIT_ADMIN_EXEMPT'] ?? 'false'))
  @IsBoolean({ message: 'must be "true" or "false"' })
  RATE_LIMIT_ADMIN_EXEMPT: boolean = false;

  /**
   * HS256 key of the simulators' access tokens, the same on every gateway replica. Unset: derived
   * from JWT_SECRET (as another key, so neither kind of token passes for the other).
   */
  @ValidateIf((c: GatewayConfig) => c.ACCESS_TOKEN_SECRET !== undefined || (!c.JWT_SECRET && c.JWKS_URL !== undefined))
  @IsString({ message: 'is required with JWKS_URL and no JWT_SECRET: the gateway signs access tokens itself' })
  @Matches(/^.{32,}$/, { message: 'must be at least 32 characters' })
  @ValidateBy({
    name: 'differsFromJwtSecret',
    validator: {
      validate: (value: unknown, args?: ValidationArguments) => typeof value !== 'string' || value !== (args?.object as GatewayConfig | undefined)?.JWT_SECRET,
      defaultMessage: () => 'must differ from JWT_SECRET, or API tokens would pass for access tokens',
    },
  })
  ACCESS_TOKEN_SECRET?: string;

  /** How long an access token from GET /simulations/:id/access can open connections. */
  @IsInt({ message: 'must be a whole number of seconds' })
  @Min(10)
  @Max(86_400)
  ACCESS_TOKEN_TTL_S: number = 600;

  /** The gateway's URL as clients reach it (an ingress), for access URLs; unset: from each request's Host header. */
  @IsOptional()
  @IsUrl({ require_tld: false, require_protocol: true, protocols: ['http', 'https'] }, { message: 'must be the http(s) URL clients reach the gateway at, e.g. https://sim.example.com' })
  PUBLIC_URL?: string;

  /** How often the simulations behind open access connections are looked at; a connection to one that stopped is closed. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(100)
  ACCESS_CHECK_INTERVAL_MS: number = 5_000;

  /** Whether this gateway projects the events into the read model; on a shared one only a lock holder does at a time. */
  @Transform(({ obj }: { obj: Record<string, unknown> }) => parseBoolean(obj['READ_MODEL_PROJECTOR'] ?? 'true'))
  @IsBoolean({ message: 'must be "true" or "false"' })
  READ_MODEL_PROJECTOR: boolean = true;

  @IsInt({ message: 'must be a whole number of events' })
  @Min(1)
  @Max(10_000)
  READ_MODEL_BATCH_SIZE: number = 1000;

  /** How long a read waits for the projection to show the caller's own launch or stop. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(0)
  READ_YOUR_WRITES_MS: number = 2_000;

  /** How long a read waits, after a start, for the projection to reach the store's head before it answers 503. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(0)
  READ_MODEL_READY_WAIT_MS: number = 5_000;

  /** How often GET /simulations/stream writes a comment, so proxies and clients see a live connection. */
  @IsInt({ message: 'must be a whole number of milliseconds' })
  @Min(100, { message: 'must be at least 100 milliseconds' })
  SSE_HEARTBEAT_MS: number = 15_000;

  /**
   * What a stream client may have waiting to be sent before it is disconnected (it then
   * resumes with Last-Event-ID): one slow client never holds the gateway's memory.
   */
  @IsInt({ message: 'must be a whole number of bytes' })
  @Min(1024, { message: 'must be at least 1024 bytes' })
  SSE_CLIENT_BUFFER_BYTES: number = 1024 * 1024;

  /** The built dashboard (index.html and assets/); the build's dist/apps/dashboard when unset. */
  @IsOptional()
  @IsString()
  DASHBOARD_DIR?: string;

  /**
   * Tokens the dashboard offers for sign-in, as a JSON object {"name": "<jwt>"}: set by
   * `npm start` for this machine only, served on a loopback-only endpoint that exists only
   * when this is set.
   */
  @IsOptional()
  @Transform(({ value }) => parseJson(value))
  @IsObject({ message: 'must be a JSON object of token names to tokens, e.g. {"user":"eyJ..."}' })
  @IsLocalTokens()
  DASHBOARD_LOCAL_TOKENS?: Record<string, string>;
}

const LOOPBACK_HOST = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|localhost)$/;

/** Local tokens are for a gateway that only this machine can reach, never a shared one. */
function IsLocalTokens() {
  return (target: object, propertyName: string) =>
    registerDecorator({
      name: 'isLocalTokens',
      target: target.constructor,
      propertyName,
      validator: {
        validate(value: unknown, args?: ValidationArguments) {
          const host = (args?.object as GatewayConfig | undefined)?.HOST ?? '';
          return (
            typeof value === 'object' &&
            value !== null &&
            Object.values(value).every((token) => typeof token === 'string' && /^[\w-]+\.[\w-]+\.[\w-]+$/.test(token)) &&
            LOOPBACK_HOST.test(host)
          );
        },
        defaultMessage: () => 'must map names to JWTs, and is only allowed with a loopback HOST (127.0.0.1, ::1 or localhost)',
      },
    });
}
