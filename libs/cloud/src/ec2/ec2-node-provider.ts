import type {
  EC2Client,
  Filter,
  Instance,
  InstanceStatus,
  InstanceStatusDetails,
  RunInstancesCommandInput,
  RunInstancesCommandOutput,
  StateReason,
  Tag,
} from '@aws-sdk/client-ec2';
import { resourcePrefix } from '@simdeploy/domain';
import { ec2Client } from '../client-libraries';
import {
  CONTROL_PLANE_TAG,
  CONTROL_PLANE_TAG_VALUE,
  DEPLOYMENT_TAG,
  NODE_ROLE_TAG,
  NodeProvider,
  OWNER_TAG,
  type LaunchedNode,
  type ManagedInstance,
  type NodeCheckRequest,
  type NodeRequest,
  type PendingReason,
  type ReadinessByDeployment,
  type ReadinessCheck,
} from '../ports';
import { Ec2ProviderError, NOT_FOUND, classifyEc2Error, ec2ErrorCode, notFoundIds, refusedWithoutEffect } from './ec2-errors';
import { launchTokenFor, subnetOrderFor } from './placement';
import { DEFAULT_RETRY, retryTransient, sleepUnlessAborted, type RetryDeps, type RetryPolicy, type Sleep } from './retry';
import { al2023UserData, al2UserData, type BootstrapContext, type EksClusterDetails, type NodeBootstrap } from './user-data';

/** User labels become EC2 tags under this prefix, so they can never clash with ours or `aws:`. */
export const LABEL_TAG_PREFIX = 'simdeploy.io/label/';
/**
 * Which simdeploy installation launched an instance. Installations sharing an account and
 * region (staging and production, a developer's workers) see, sweep and terminate only their own.
 */
export const INSTALLATION_TAG = 'simdeploy.io/installation-id';

export type LaunchTemplateRef = { id: string; version?: string } | { name: string; version?: string };

/** How the provider lives with EC2's eventual consistency (an instance invisible for a while after RunInstances). */
export interface ConsistencyPolicy {
  /** How long one call retries an instance EC2 does not show yet before it answers "try again" (transient). */
  budgetMs: number;
  /**
   * How long an instance EC2 answers NotFound for may still be a new one, counted from its
   * launch (when this process launched it) or from the first NotFound this process saw.
   * Past it, NotFound means gone: EC2 drops terminated instances about an hour after the end.
   */
  graceMs: number;
}

/** AWS advises backing off "up to a few minutes" for a resource that is not visible yet. */
export const DEFAULT_CONSISTENCY: ConsistencyPolicy = { budgetMs: 4_000, graceMs: 300_000 };

export interface Ec2NodeProviderConfig {
  region: string;
  /** EKS cluster the machines join; also names the `kubernetes.io/cluster/<name>` tag. */
  clusterName: string;
  /** Tags every instance and volume (INSTALLATION_TAG) and scopes every listing and token to this installation. */
  installationId: string;
  /** AMI to launch; may be left to the launch template. One of the two is required. */
  imageId?: string;
  launchTemplate?: LaunchTemplateRef;
  /** Nodes spread over them by deployment and fall back to the others on capacity; empty leaves it to the launch template or default VPC. */
  subnetIds: readonly string[];
  /** Empty leaves them to the launch template or the VPC's default group. */
  securityGroupIds: readonly string[];
  instanceProfileArn?: string;
  keyName?: string;
  /** How nodes join the cluster; default `al2023`, which needs `cluster`. */
  nodeBootstrap?: NodeBootstrap;
  cluster?: EksClusterDetails;
  /** Plain-text user data instead of the built-in bootstrap; the provider base64-encodes it. */
  bootstrapUserData?: (ctx: BootstrapContext) => string;
  /** An EC2-compatible endpoint (AWS_ENDPOINT_URL); only used when the provider builds the client. */
  endpoint?: string;
  retry?: Partial<RetryPolicy>;
  consistency?: Partial<ConsistencyPolicy>;
  /** Test seams: how to pause, jitter and read the clock. */
  sleep?: Sleep;
  random?: () => number;
  now?: () => number;
}

export interface WaitForNodesOptions {
  /** Give up this many milliseconds from the call. */
  deadlineMs: number;
  /** Pause between two checks. Default 5 000 ms. */
  pollMs?: number;
  signal?: AbortSignal;
}

const EC2_MAX_TAGS = 50;
const TERMINATE_BATCH = 1000;
const STATUS_BATCH = 100;
const FILTER_VALUES = 200;
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];
const GONE_STATES = new Set(['shutting-down', 'terminated']);
// Nothing here starts a stopped machine again, so `stopping` is as final as `stopped`.
const FAILED_STATES = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);
// Refusals that say "not here, not now": the next subnet (zone) may take the node.
const TRY_ANOTHER_SUBNET = new Set(['InsufficientInstanceCapacity', 'InsufficientCapacity', 'InsufficientFreeAddressesInSubnet', 'Unsupported']);
const FIRST_VISIBILITY_PAUSE_MS = 500;
// What this process remembers about instances and launches, at most (oldest forgotten first).
const MEMORY_LIMIT = 10_000;

const chunk = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

const tagValue = (instance: Instance, key: string): string | undefined => instance.Tags?.find((t) => t.Key === key)?.Value;

/** A Map that forgets its oldest entries beyond a limit: a cache, never the only record of anything. */
class BoundedMap<K, V> extends Map<K, V> {
  override set(key: K, value: V): this {
    super.delete(key);
    super.set(key, value);
    if (this.size > MEMORY_LIMIT) this.delete(this.keys().next().value as K);
    return this;
  }
}

interface LaunchAttempt {
  subnetId?: string;
  clientToken: string;
}

type AttemptOutcome = { instance: Instance } | { refusal: Ec2ProviderError; subnetId?: string };

interface StatusSurvey {
  statuses: Map<string, InstanceStatus>;
  /** Ids EC2 answered NotFound for. */
  invisible: Set<string>;
  /** Ids whose call failed: their deployments are not answered this round. */
  unchecked: Set<string>;
  errors: unknown[];
}

/**
 * NodeProvider on EC2. Every call is safe to repeat: launches carry a client token derived
 * from the domain's, per subnet; terminations confirm what EC2 calls unknown; what a crashed
 * launcher never recorded is found again by the deployment and installation tags.
 */
export class Ec2NodeProvider extends NodeProvider {
  private readonly client: EC2Client;
  private readonly retry: RetryDeps;
  private readonly consistency: ConsistencyPolicy;
  private readonly now: () => number;
  private readonly bootstrap: NodeBootstrap;
  private readonly userData?: (ctx: BootstrapContext) => string;
  /** When this process launched an instance or first found it missing: the start of its grace period. */
  private readonly missingSince = new BoundedMap<string, number>();
  /**
   * Per node (domain token), the subnet tokens that may hold its machine: the one that
   * launched it, or ones whose answer was lost. A later launch of the node asks them first,
   * and RunInstances answers them consistently (unlike DescribeInstances, just after a launch).
   */
  private readonly tryFirst = new BoundedMap<string, Set<string>>();

  /** `client` is for tests and for callers that configure the SDK themselves (its own retries add to ours). */
  constructor(
    private readonly config: Ec2NodeProviderConfig,
    client?: EC2Client,
  ) {
    super();
    if (!config.imageId && !config.launchTemplate) throw new Error('Ec2NodeProvider: set imageId or launchTemplate');
    if (!config.installationId) throw new Error('Ec2NodeProvider: set installationId (INSTALLATION_ID)');
    this.bootstrap = config.nodeBootstrap ?? 'al2023';
    if (this.bootstrap === 'launch-template' && !config.launchTemplate) {
      throw new Error('Ec2NodeProvider: nodeBootstrap "launch-template" needs a launch template whose user data joins the node (EC2_LAUNCH_TEMPLATE)');
    }
    const cluster = config.cluster;
    if (this.bootstrap === 'al2023' && !config.bootstrapUserData && !(cluster?.apiServerEndpoint && cluster.certificateAuthority && cluster.serviceCidr)) {
      throw new Error(
        'Ec2NodeProvider: AL2023 nodes (nodeadm) need cluster.apiServerEndpoint, cluster.certificateAuthority and cluster.serviceCidr ' +
          '(EC2_CLUSTER_ENDPOINT, EC2_CLUSTER_CA, EC2_CLUSTER_SERVICE_CIDR)',
      );
    }
    // The SDK would retry too, multiplying attempts and hiding them from our count.
    this.client = client ?? new (ec2Client().EC2Client)({ region: config.region, endpoint: config.endpoint, maxAttempts: 1 });
    this.retry = {
      policy: { ...DEFAULT_RETRY, ...config.retry },
      sleep: config.sleep ?? sleepUnlessAborted,
      random: config.random ?? Math.random,
    };
    this.consistency = { ...DEFAULT_CONSISTENCY, ...config.consistency };
    this.now = config.now ?? Date.now;
    this.userData = config.bootstrapUserData ?? this.builtInUserData(cluster);
  }

  /**
   * Tries the node's subnets in turn (see subnetOrderFor), each under its own client token,
   * moving on only when EC2 refused the launch there (capacity, type not offered, no free
   * address), which leaves nothing behind. So a retry never creates a second machine:
   * - the same subnet is always asked with the same token, which returns its instance;
   * - the subnet that launched the node, or whose answer was lost, is asked again first (by
   *   this process), before any other; with several subnets a DescribeInstances by client
   *   token first finds what another worker launched (past EC2's few seconds of eventual
   *   consistency, well within the ack wait after which a command is redelivered);
   * - what still slips through carries the deployment tags: terminateDeployment and the
   *   orphan sweep find it.
   * No capacity anywhere is a transient error: the lifecycle asks again later.
   */
  async launchNode(request: NodeRequest, signal?: AbortSignal): Promise<LaunchedNode> {
    const attempts = this.attemptsFor(request);
    if (attempts.length > 1) {
      const existing = await this.findLaunched(attempts, signal);
      if (existing) return this.launched(existing, signal);
    }
    const first = this.tryFirst.get(request.clientToken);
    const ordered = first ? [...attempts.filter((a) => first.has(a.clientToken)), ...attempts.filter((a) => !first.has(a.clientToken))] : attempts;
    const refusals: Array<{ refusal: Ec2ProviderError; subnetId?: string }> = [];
    for (const attempt of ordered) {
      const outcome = await this.launchIn(request, attempt, signal);
      if ('refusal' in outcome) {
        refusals.push(outcome);
        continue;
      }
      this.tryFirst.set(request.clientToken, new Set([attempt.clientToken]));
      return this.launched(outcome.instance, signal);
    }
    throw this.noSubnetTookIt(request, refusals);
  }

  async checkNodes(deploymentId: string, nodes: readonly LaunchedNode[], signal?: AbortSignal): Promise<ReadinessCheck> {
    const { answers, errors } = await this.survey([{ deploymentId, nodes }], signal);
    const answer = answers.get(deploymentId);
    if (answer) return answer;
    throw errors[0] ?? new Ec2ProviderError('CheckFailed', `could not check the instances of ${deploymentId}`, true);
  }

  /**
   * One DescribeInstanceStatus per 100 instances for all waiting deployments together: a
   * poll costs the account's EC2 request budget per instance batch, not per deployment.
   */
  override async checkNodesBatch(requests: readonly NodeCheckRequest[], signal?: AbortSignal): Promise<ReadinessByDeployment> {
    return (await this.survey(requests, signal)).answers;
  }

  /**
   * Polls checkNodes until the nodes are ready or one failed (both returned), the deadline
   * passes (NodeReadyTimeout, permanent) or the signal aborts (rejects with its reason).
   */
  async waitForNodes(
    deploymentId: string,
    nodes: readonly LaunchedNode[],
    options: WaitForNodesOptions,
  ): Promise<Exclude<ReadinessCheck, { state: 'pending' }>> {
    const { deadlineMs, pollMs = 5_000, signal } = options;
    const deadline = this.now() + deadlineMs;
    for (;;) {
      const check = await this.checkNodes(deploymentId, nodes, signal);
      if (check.state !== 'pending') return check;
      const left = deadline - this.now();
      if (left <= 0) {
        const detail = check.detail ? `: ${check.detail}` : '';
        throw new Ec2ProviderError('NodeReadyTimeout', `nodes of ${deploymentId} not ready within ${deadlineMs} ms${detail}`, false);
      }
      await this.retry.sleep(Math.min(pollMs, left), signal);
    }
  }

  /**
   * Terminates the instances. An id EC2 calls unknown is not taken for terminated: right
   * after RunInstances EC2 answers NotFound for instances that exist and run. It counts as
   * done once DescribeInstances shows it terminated, or once it has been unknown for the
   * grace period; until then the call retries within its budget and then answers
   * InstanceNotVisible (transient), so the lifecycle calls again later.
   */
  async terminateInstances(_deploymentId: string, instanceIds: readonly string[], signal?: AbortSignal): Promise<void> {
    const missing: string[] = [];
    for (const batch of chunk([...new Set(instanceIds)].filter((id) => id !== ''), TERMINATE_BATCH)) {
      missing.push(...(await this.terminateBatch(batch, signal)));
    }
    if (missing.length > 0) await this.settleMissing(missing, signal);
  }

  async terminateDeployment(deploymentId: string, signal?: AbortSignal): Promise<string[]> {
    const instances = await this.describeInstances(
      [{ Name: `tag:${DEPLOYMENT_TAG}`, Values: [deploymentId] }, ...this.ownedFilters(), { Name: 'instance-state-name', Values: LIVE_STATES }],
      signal,
    );
    const ids = instances.flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
    await this.terminateInstances(deploymentId, ids, signal);
    return ids;
  }

  async listManagedInstances(signal?: AbortSignal): Promise<ManagedInstance[]> {
    const instances = await this.describeInstances(
      [...this.ownedFilters(), { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] }],
      signal,
    );
    return instances.flatMap((i) =>
      i.InstanceId
        ? [
            {
              instanceId: i.InstanceId,
              deploymentId: tagValue(i, DEPLOYMENT_TAG) ?? null,
              state: i.State?.Name ?? 'unknown',
              ...(i.LaunchTime ? { launchedAt: i.LaunchTime.toISOString() } : {}),
              ...(i.ClientToken ? { clientToken: i.ClientToken } : {}),
            },
          ]
        : [],
    );
  }

  private call<T>(send: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    return retryTransient(this.retry, send, signal);
  }

  /** This installation's machines in this cluster, and nobody else's. */
  private ownedFilters(): Filter[] {
    return [
      { Name: `tag:${CONTROL_PLANE_TAG}`, Values: [CONTROL_PLANE_TAG_VALUE] },
      { Name: `tag:${INSTALLATION_TAG}`, Values: [this.config.installationId] },
      { Name: `tag:kubernetes.io/cluster/${this.config.clusterName}`, Values: ['owned'] },
    ];
  }

  private builtInUserData(cluster: EksClusterDetails | undefined): ((ctx: BootstrapContext) => string) | undefined {
    switch (this.bootstrap) {
      case 'al2023':
        return cluster ? (ctx) => al2023UserData({ ...ctx, cluster }) : undefined;
      case 'al2':
        return (ctx) => al2UserData({ ...ctx, ...(cluster ? { cluster } : {}) });
      case 'launch-template':
        return undefined;
    }
  }

  private attemptsFor(request: NodeRequest): LaunchAttempt[] {
    const { installationId, subnetIds } = this.config;
    const subnets = subnetOrderFor(request.deploymentId, subnetIds);
    if (subnets.length === 0) return [{ clientToken: launchTokenFor(request.clientToken, installationId, undefined) }];
    return subnets.map((subnetId) => ({ subnetId, clientToken: launchTokenFor(request.clientToken, installationId, subnetId) }));
  }

  /** A machine an earlier call (maybe another worker's) launched for this node in any of its subnets. */
  private async findLaunched(attempts: readonly LaunchAttempt[], signal?: AbortSignal): Promise<Instance | undefined> {
    const found = await this.describeInstances(
      [
        { Name: 'client-token', Values: attempts.map((a) => a.clientToken) },
        { Name: 'instance-state-name', Values: LIVE_STATES },
      ],
      signal,
    );
    return found.find((i) => i.State?.Name === 'running') ?? found[0];
  }

  /** One RunInstances in one subnet; EC2's "not here" comes back as a refusal, anything else throws. */
  private async launchIn(request: NodeRequest, attempt: LaunchAttempt, signal?: AbortSignal): Promise<AttemptOutcome> {
    const node = request.clientToken;
    this.tryFirst.set(node, new Set([...(this.tryFirst.get(node) ?? []), attempt.clientToken]));
    let answerLost = false;
    let answer: { output: RunInstancesCommandOutput } | { refused: unknown };
    try {
      answer = await this.call(async () => {
        try {
          return { output: await this.client.send(new (ec2Client().RunInstancesCommand)(this.runInput(request, attempt)), { abortSignal: signal }) };
        } catch (err) {
          if (!signal?.aborted && TRY_ANOTHER_SUBNET.has(ec2ErrorCode(err))) return { refused: err };
          if (signal?.aborted || !refusedWithoutEffect(err)) answerLost = true;
          throw err;
        }
      }, signal);
    } catch (err) {
      if (!answerLost) this.answered(node, attempt);
      throw err;
    }
    // An answer for this token settles whatever an earlier lost request with it did.
    this.answered(node, attempt);
    if ('refused' in answer) return { refusal: classifyEc2Error(answer.refused), ...(attempt.subnetId ? { subnetId: attempt.subnetId } : {}) };
    const instance = answer.output.Instances?.[0];
    if (!instance?.InstanceId) {
      throw new Ec2ProviderError('MalformedResponse', `RunInstances for ${attempt.clientToken} returned no instance`, true);
    }
    return { instance };
  }

  private answered(node: string, attempt: LaunchAttempt): void {
    const open = this.tryFirst.get(node);
    open?.delete(attempt.clientToken);
    if (open?.size === 0) this.tryFirst.delete(node);
  }

  /** Every subnet refused: transient unless the type is offered in none of them. */
  private noSubnetTookIt(request: NodeRequest, refusals: ReadonlyArray<{ refusal: Ec2ProviderError; subnetId?: string }>): Ec2ProviderError {
    const where = refusals.map(({ refusal, subnetId }) => `${subnetId ?? 'default subnet'}: ${refusal.code}: ${refusal.message}`).join('; ');
    const retryable = refusals.find((r) => r.refusal.transient);
    const first = retryable ?? refusals[0];
    if (!first) return new Ec2ProviderError('NoSubnet', `no subnet to launch ${request.clientToken} in`, false);
    return new Ec2ProviderError(first.refusal.code, `${request.instanceType} could not be launched in any subnet (${where})`, retryable !== undefined, 1, {
      cause: first.refusal,
    });
  }

  private async launched(instance: Instance, signal?: AbortSignal): Promise<LaunchedNode> {
    const instanceId = instance.InstanceId as string;
    if (!this.missingSince.has(instanceId)) this.missingSince.set(instanceId, this.now());
    const nodeName = instance.PrivateDnsName || (await this.privateDnsName(instanceId, signal));
    return { instanceId, nodeName };
  }

  private runInput(request: NodeRequest, attempt: LaunchAttempt): RunInstancesCommandInput {
    const { config } = this;
    const template = config.launchTemplate;
    const tags = this.tags(request);
    const userData = this.userData?.({
      clusterName: config.clusterName,
      deploymentId: request.deploymentId,
      owner: request.owner,
      role: request.role,
      index: request.index,
      ...(config.cluster ? { cluster: config.cluster } : {}),
    });
    return {
      MinCount: 1,
      MaxCount: 1,
      ClientToken: attempt.clientToken,
      InstanceType: request.instanceType as RunInstancesCommandInput['InstanceType'],
      ...(config.imageId ? { ImageId: config.imageId } : {}),
      ...(template
        ? {
            LaunchTemplate: {
              ...('id' in template ? { LaunchTemplateId: template.id } : { LaunchTemplateName: template.name }),
              ...(template.version ? { Version: template.version } : {}),
            },
          }
        : {}),
      ...(attempt.subnetId ? { SubnetId: attempt.subnetId } : {}),
      ...(config.securityGroupIds.length > 0 ? { SecurityGroupIds: [...config.securityGroupIds] } : {}),
      ...(config.instanceProfileArn ? { IamInstanceProfile: { Arn: config.instanceProfileArn } } : {}),
      ...(config.keyName ? { KeyName: config.keyName } : {}),
      // IMDSv2 only, one hop: a pod (one hop further, in its own network namespace) cannot
      // reach the metadata service, so not the node role's credentials either.
      MetadataOptions: { HttpEndpoint: 'enabled', HttpTokens: 'required', HttpPutResponseHopLimit: 1 },
      ...(userData === undefined ? {} : { UserData: Buffer.from(userData, 'utf8').toString('base64') }),
      TagSpecifications: [
        { ResourceType: 'instance', Tags: tags },
        { ResourceType: 'volume', Tags: tags },
      ],
    };
  }

  /**
   * Our tags first; then the user's labels, prefixed, while they fit EC2's limits (50 tags,
   * keys <= 128, values <= 256). A label that does not fit is left out rather than failing
   * the launch: labels are for people and cost reports, nothing here reads them back.
   */
  private tags(request: NodeRequest): Tag[] {
    const own: Tag[] = [
      { Key: 'Name', Value: `${resourcePrefix(request.deploymentId)}-${request.role}-${request.index}` },
      { Key: DEPLOYMENT_TAG, Value: request.deploymentId },
      { Key: OWNER_TAG, Value: request.owner.slice(0, 256) },
      { Key: NODE_ROLE_TAG, Value: request.role },
      { Key: `kubernetes.io/cluster/${this.config.clusterName}`, Value: 'owned' },
      { Key: CONTROL_PLANE_TAG, Value: CONTROL_PLANE_TAG_VALUE },
      { Key: INSTALLATION_TAG, Value: this.config.installationId },
    ];
    const labels = Object.entries(request.labels)
      .map(([key, value]) => ({ Key: `${LABEL_TAG_PREFIX}${key}`, Value: value }))
      .filter((t) => t.Key.length <= 128 && t.Value.length <= 256)
      .sort((a, b) => a.Key.localeCompare(b.Key))
      .slice(0, EC2_MAX_TAGS - own.length);
    return [...own, ...labels];
  }

  /** Emulators, or a subnet without DNS hostnames in the answer, may leave it out of RunInstances. */
  private async privateDnsName(instanceId: string, signal?: AbortSignal): Promise<string> {
    const out = await this.whenVisible(
      [instanceId],
      () => this.call(() => this.client.send(new (ec2Client().DescribeInstancesCommand)({ InstanceIds: [instanceId] }), { abortSignal: signal }), signal),
      signal,
    );
    const name = out.Reservations?.[0]?.Instances?.[0]?.PrivateDnsName;
    if (!name) throw new Ec2ProviderError('NodeNameUnavailable', `${instanceId} has no PrivateDnsName yet`, true);
    return name;
  }

  /** Runs `read` again while EC2 answers NotFound for a new instance, within the consistency budget. */
  private async whenVisible<T>(ids: readonly string[], read: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const deadline = this.now() + this.consistency.budgetMs;
    for (let pause = FIRST_VISIBILITY_PAUSE_MS; ; pause *= 2) {
      try {
        return await read();
      } catch (err) {
        if (ec2ErrorCode(err) !== NOT_FOUND) throw err;
        const left = deadline - this.now();
        if (left <= 0) throw this.notVisible(ids, err);
        await this.retry.sleep(Math.min(pause, left), signal);
      }
    }
  }

  private notVisible(ids: readonly string[], cause?: unknown): Ec2ProviderError {
    return new Ec2ProviderError(
      'InstanceNotVisible',
      `EC2 does not show ${ids.join(', ')} yet; right after a launch that is eventual consistency, not a sign the instance is gone: try again`,
      true,
      1,
      { cause },
    );
  }

  /** Whether an instance EC2 does not know has been unknown (or launched) longer than the grace period. */
  private missingLongEnough(instanceId: string): boolean {
    const since = this.missingSince.get(instanceId);
    if (since === undefined) {
      this.missingSince.set(instanceId, this.now());
      return this.consistency.graceMs <= 0;
    }
    return this.now() - since >= this.consistency.graceMs;
  }

  private async survey(requests: readonly NodeCheckRequest[], signal?: AbortSignal): Promise<{ answers: ReadinessByDeployment; errors: unknown[] }> {
    const ids = [...new Set(requests.flatMap((r) => r.nodes.map((n) => n.instanceId)).filter((id) => id !== ''))];
    const found = await this.describeStatuses(ids, signal);
    const failedIds = ids.filter((id) => FAILED_STATES.has(found.statuses.get(id)?.InstanceState?.Name ?? ''));
    const reasons = failedIds.length > 0 ? await this.stateReasons(failedIds, signal) : new Map<string, StateReason>();
    const answers: ReadinessByDeployment = new Map();
    for (const { deploymentId, nodes } of requests) {
      const own = nodes.map((n) => n.instanceId);
      if (own.some((id) => found.unchecked.has(id))) continue;
      answers.set(deploymentId, this.readiness(own, found, reasons));
    }
    return { answers, errors: found.errors };
  }

  private async describeStatuses(ids: readonly string[], signal?: AbortSignal): Promise<StatusSurvey> {
    const found: StatusSurvey = { statuses: new Map(), invisible: new Set(), unchecked: new Set(), errors: [] };
    for (const batch of chunk(ids, STATUS_BATCH)) await this.describeStatusBatch(batch, found, signal);
    return found;
  }

  /**
   * EC2 refuses the whole call when one id is unknown (a fresh instance), naming it: those
   * are set aside as invisible and the rest asked again, so one new instance cannot hold
   * up everyone else's answer.
   */
  private async describeStatusBatch(batch: readonly string[], found: StatusSurvey, signal?: AbortSignal): Promise<void> {
    let pending = [...batch];
    while (pending.length > 0) {
      try {
        let nextToken: string | undefined;
        do {
          const ids = pending;
          const token = nextToken;
          const out = await this.call(
            () =>
              this.client.send(new (ec2Client().DescribeInstanceStatusCommand)({ InstanceIds: ids, IncludeAllInstances: true, ...(token ? { NextToken: token } : {}) }), {
                abortSignal: signal,
              }),
            signal,
          );
          for (const s of out.InstanceStatuses ?? []) if (s.InstanceId) found.statuses.set(s.InstanceId, s);
          nextToken = out.NextToken;
        } while (nextToken);
        return;
      } catch (err) {
        if (signal?.aborted) throw err;
        if (ec2ErrorCode(err) !== NOT_FOUND) {
          for (const id of pending) found.unchecked.add(id);
          found.errors.push(err);
          return;
        }
        const named = new Set(notFoundIds(err).filter((id) => pending.includes(id)));
        if (named.size === 0) {
          // Could not tell which id: halve until each unknown one stands alone.
          if (pending.length === 1) {
            found.invisible.add(pending[0] as string);
            return;
          }
          const half = Math.ceil(pending.length / 2);
          await this.describeStatusBatch(pending.slice(0, half), found, signal);
          await this.describeStatusBatch(pending.slice(half), found, signal);
          return;
        }
        for (const id of named) found.invisible.add(id);
        pending = pending.filter((id) => !named.has(id));
      }
    }
  }

  private readiness(ids: readonly string[], found: StatusSurvey, reasons: ReadonlyMap<string, StateReason>): ReadinessCheck {
    if (ids.some((id) => id === '')) {
      return { state: 'pending', detail: 'an instance id is not recorded yet', reason: { code: 'InstanceNotRecorded', message: 'an instance id is not recorded yet' } };
    }
    const { statuses, invisible } = found;
    const failed = ids.filter((id) => FAILED_STATES.has(statuses.get(id)?.InstanceState?.Name ?? ''));
    if (failed.length > 0) return this.failedCheck(failed, statuses, reasons);
    const impaired = ids.flatMap((id) => {
      const s = statuses.get(id);
      const checks = [
        s?.InstanceStatus?.Status === 'impaired' ? `instance status check impaired${impairment(s.InstanceStatus.Details)}` : '',
        s?.SystemStatus?.Status === 'impaired' ? `system status check impaired${impairment(s.SystemStatus.Details)}` : '',
      ].filter(Boolean);
      return checks.length > 0 ? [{ id, message: `${id}: ${checks.join(', ')}`, system: s?.SystemStatus?.Status === 'impaired' }] : [];
    });
    if (impaired.length > 0) {
      // A failed system check is AWS's hardware or network: another machine is worth a try.
      const error = { code: 'InstanceImpaired', message: impaired.map((i) => i.message).join('; '), transient: impaired.some((i) => i.system) };
      return { state: 'failed', error };
    }
    const lost = ids.filter((id) => invisible.has(id) && this.missingLongEnough(id));
    if (lost.length > 0) {
      const message = `EC2 has not known ${lost.join(', ')} for ${Math.round(this.consistency.graceMs / 1000)} s: terminated long ago, or never launched`;
      return { state: 'failed', error: { code: 'InstanceNotFound', message, transient: false } };
    }
    const waiting = ids.flatMap((id): Array<PendingReason & { rank: number }> => {
      if (invisible.has(id)) return [{ rank: 0, code: 'InstanceNotVisible', message: `${id}: not visible in EC2 yet (eventual consistency right after launch)` }];
      const s = statuses.get(id);
      if (!s) return [{ rank: 0, code: 'InstanceNotReported', message: `${id}: not reported yet` }];
      const state = s.InstanceState?.Name ?? 'unknown';
      const instance = s.InstanceStatus?.Status ?? 'unknown';
      const system = s.SystemStatus?.Status ?? 'unknown';
      if (state === 'running' && instance === 'ok' && system === 'ok') return [];
      const message = `${id}: ${state}, instance status ${instance}, system status ${system}`;
      return [state === 'running' ? { rank: 2, code: 'StatusChecksPending', message } : { rank: 1, code: 'InstanceStarting', message }];
    });
    if (waiting.length === 0) return { state: 'ready' };
    const least = waiting.reduce((a, b) => (b.rank < a.rank ? b : a));
    return { state: 'pending', detail: waiting.map((w) => w.message).join('; '), reason: { code: least.code, message: least.message } };
  }

  /** DescribeInstanceStatus has no StateReason; DescribeInstances says why machines stopped, for all of them at once. */
  private async stateReasons(ids: readonly string[], signal?: AbortSignal): Promise<Map<string, StateReason>> {
    const reasons = new Map<string, StateReason>();
    for (const batch of chunk(ids, TERMINATE_BATCH)) {
      const out = await this.call(
        () => this.client.send(new (ec2Client().DescribeInstancesCommand)({ InstanceIds: batch }), { abortSignal: signal }),
        signal,
      ).catch((err: unknown) => {
        // The state alone already says the node failed; the reason is a courtesy.
        if (signal?.aborted) throw err;
        return undefined;
      });
      for (const instance of out?.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
        if (instance.InstanceId && instance.StateReason) reasons.set(instance.InstanceId, instance.StateReason);
      }
    }
    return reasons;
  }

  private failedCheck(failed: readonly string[], statuses: ReadonlyMap<string, InstanceStatus>, reasons: ReadonlyMap<string, StateReason>): ReadinessCheck {
    const because = (id: string) => {
      const reason = reasons.get(id);
      return reason ? ` (${reason.Code ?? ''}: ${reason.Message ?? ''})` : '';
    };
    const ownBootstrap = !this.config.bootstrapUserData && this.bootstrap !== 'launch-template';
    if (ownBootstrap && failed.every((id) => reasons.get(id)?.Code === 'Client.InstanceInitiatedShutdown')) {
      const cause =
        this.bootstrap === 'al2023'
          ? 'nodeadm is missing, so the image is not an Amazon Linux 2023 (AL2023) EKS image'
          : '/etc/eks/bootstrap.sh is missing or failed, so the image is not an Amazon Linux 2 EKS image or cannot reach the cluster';
      const other = this.bootstrap === 'al2023' ? 'al2 for an AL2 image' : 'al2023 for an AL2023 image';
      const message =
        `${failed.map((id) => `${id} shut itself down while booting${because(id)}`).join('; ')}: simdeploy's user data powers a machine off ` +
        `when it cannot join the cluster, here because ${cause}. Check EC2_IMAGE_ID (or the launch template's image), or set EC2_NODE_BOOTSTRAP=${other}`;
      return { state: 'failed', error: { code: 'NodeBootstrapFailed', message, transient: false } };
    }
    // Capacity ran out or EC2 failed on its side: the same request may work later.
    const transient = failed.some((id) => /InsufficientInstanceCapacity|InternalError/.test(reasons.get(id)?.Code ?? ''));
    const message = failed.map((id) => `${id} is ${statuses.get(id)?.InstanceState?.Name}${because(id)}`).join('; ');
    return { state: 'failed', error: { code: 'InstanceNotRunning', message, transient } };
  }

  /** TerminateInstances for the ids; answers the ids EC2 said it does not know. */
  private async terminateBatch(ids: readonly string[], signal?: AbortSignal): Promise<string[]> {
    let remaining = [...ids];
    const missing: string[] = [];
    while (remaining.length > 0) {
      try {
        const batch = remaining;
        await this.call(() => this.client.send(new (ec2Client().TerminateInstancesCommand)({ InstanceIds: batch }), { abortSignal: signal }), signal);
        return missing;
      } catch (err) {
        if (ec2ErrorCode(err) !== NOT_FOUND) throw err;
        // EC2 refuses the whole batch when one id is unknown, naming the unknown ones.
        const named = new Set(notFoundIds(err).filter((id) => remaining.includes(id)));
        if (named.size === 0) {
          // Could not tell which ids are unknown: one by one, so the known ones still go.
          if (remaining.length === 1) return [...missing, ...remaining];
          for (const id of remaining) missing.push(...(await this.terminateBatch([id], signal)));
          return missing;
        }
        missing.push(...named);
        remaining = remaining.filter((id) => !named.has(id));
      }
    }
    return missing;
  }

  /**
   * Ids TerminateInstances called unknown: what DescribeInstances shows terminated is done,
   * what it shows alive is terminated now, what it does not show yet is asked again with
   * backoff within the budget, unless it has been unknown for the grace period.
   */
  private async settleMissing(ids: readonly string[], signal?: AbortSignal): Promise<void> {
    const deadline = this.now() + this.consistency.budgetMs;
    let open = [...ids];
    for (let pause = FIRST_VISIBILITY_PAUSE_MS; ; pause *= 2) {
      const visible = await this.instancesById(open, signal);
      const alive = open.filter((id) => visible.has(id) && !GONE_STATES.has(visible.get(id)?.State?.Name ?? ''));
      const unseen = open.filter((id) => !visible.has(id) && !this.missingLongEnough(id));
      const stillMissing = alive.length > 0 ? await this.terminateBatch(alive, signal) : [];
      for (const id of open) if (!unseen.includes(id) && !stillMissing.includes(id)) this.missingSince.delete(id);
      open = [...unseen, ...stillMissing];
      if (open.length === 0) return;
      const left = deadline - this.now();
      if (left <= 0) throw this.notVisible(open);
      await this.retry.sleep(Math.min(pause, left), signal);
    }
  }

  /** DescribeInstances by an `instance-id` filter: unknown ids are left out instead of failing the call. */
  private async instancesById(ids: readonly string[], signal?: AbortSignal): Promise<Map<string, Instance>> {
    const byId = new Map<string, Instance>();
    for (const batch of chunk(ids, FILTER_VALUES)) {
      let nextToken: string | undefined;
      do {
        const token = nextToken;
        const out = await this.call(
          () =>
            this.client.send(new (ec2Client().DescribeInstancesCommand)({ Filters: [{ Name: 'instance-id', Values: batch }], ...(token ? { NextToken: token } : {}) }), {
              abortSignal: signal,
            }),
          signal,
        );
        for (const instance of out.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
          if (instance.InstanceId) byId.set(instance.InstanceId, instance);
        }
        nextToken = out.NextToken;
      } while (nextToken);
    }
    return byId;
  }

  private async describeInstances(filters: Filter[], signal?: AbortSignal): Promise<Instance[]> {
    const found: Instance[] = [];
    let nextToken: string | undefined;
    // A retry resumes from the last page read instead of starting over.
    await this.call(async () => {
      const pages = ec2Client().paginateDescribeInstances(
        { client: this.client, pageSize: 1000, startingToken: nextToken },
        { Filters: filters },
        { abortSignal: signal },
      );
      for await (const page of pages) {
        for (const reservation of page.Reservations ?? []) found.push(...(reservation.Instances ?? []));
        nextToken = page.NextToken;
      }
    }, signal);
    return found;
  }
}

/** ` (reachability failed since 2026-03-01T10:02:00.000Z)` from a status check's details. */
function impairment(details: readonly InstanceStatusDetails[] | undefined): string {
  const parts = (details ?? [])
    .filter((d) => d.Status && d.Status !== 'passed')
    .map((d) => `${d.Name ?? 'check'} ${d.Status}${d.ImpairedSince ? ` since ${d.ImpairedSince.toISOString()}` : ''}`);
  return parts.length > 0 ? ` (${parts.join(', ')})` : '';
}
