import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  EC2Client,
  RunInstancesCommand,
  TerminateInstancesCommand,
  paginateDescribeInstances,
  type Filter,
  type Instance,
  type InstanceStatus,
  type RunInstancesCommandInput,
  type Tag,
} from '@aws-sdk/client-ec2';
import { resourcePrefix } from '@simdeploy/domain';
import {
  CONTROL_PLANE_TAG,
  CONTROL_PLANE_TAG_VALUE,
  DEPLOYMENT_TAG,
  NODE_ROLE_TAG,
  NodeProvider,
  OWNER_TAG,
  type LaunchedNode,
  type ManagedInstance,
  type NodeRequest,
  type ReadinessCheck,
} from '../ports';
import { Ec2ProviderError, ec2ErrorCode } from './ec2-errors';
import { DEFAULT_RETRY, retryTransient, sleepUnlessAborted, type RetryDeps, type RetryPolicy, type Sleep } from './retry';
import { eksBootstrapUserData, type BootstrapContext } from './user-data';

/** User labels become EC2 tags under this prefix, so they can never clash with ours or `aws:`. */
export const LABEL_TAG_PREFIX = 'simdeploy.io/label/';

export type LaunchTemplateRef = { id: string; version?: string } | { name: string; version?: string };

export interface Ec2NodeProviderConfig {
  region: string;
  /** EKS cluster the machines join; also names the `kubernetes.io/cluster/<name>` tag. */
  clusterName: string;
  /** AMI to launch; may be left to the launch template. One of the two is required. */
  imageId?: string;
  launchTemplate?: LaunchTemplateRef;
  /** Node `index` picks one round-robin; empty leaves it to the launch template or default VPC. */
  subnetIds: readonly string[];
  /** Empty leaves them to the launch template or the VPC's default group. */
  securityGroupIds: readonly string[];
  instanceProfileArn?: string;
  keyName?: string;
  /** Plain-text user data for a node; the provider base64-encodes it. Default: EKS bootstrap. */
  bootstrapUserData?: (ctx: BootstrapContext) => string;
  /** An EC2-compatible endpoint (AWS_ENDPOINT_URL); only used when the provider builds the client. */
  endpoint?: string;
  retry?: Partial<RetryPolicy>;
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
const LIVE_STATES = ['pending', 'running', 'stopping', 'stopped'];
// Nothing here starts a stopped machine again, so `stopping` is as final as `stopped`.
const FAILED_STATES = new Set(['shutting-down', 'terminated', 'stopping', 'stopped']);
const NOT_FOUND = 'InvalidInstanceID.NotFound';

const chunk = <T>(items: readonly T[], size: number): T[][] =>
  Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

const tagValue = (instance: Instance, key: string): string | undefined => instance.Tags?.find((t) => t.Key === key)?.Value;

/**
 * NodeProvider on EC2. Every call is safe to repeat: launches carry the domain's client
 * token, terminations treat unknown ids as gone, and what a crashed launcher never recorded
 * is found again by the deployment tag.
 */
export class Ec2NodeProvider extends NodeProvider {
  private readonly client: EC2Client;
  private readonly retry: RetryDeps;
  private readonly now: () => number;
  private readonly userData: (ctx: BootstrapContext) => string;

  /** `client` is for tests and for callers that configure the SDK themselves (its own retries add to ours). */
  constructor(
    private readonly config: Ec2NodeProviderConfig,
    client?: EC2Client,
  ) {
    super();
    if (!config.imageId && !config.launchTemplate) throw new Error('Ec2NodeProvider: set imageId or launchTemplate');
    // The SDK would retry too, multiplying attempts and hiding them from our count.
    this.client = client ?? new EC2Client({ region: config.region, endpoint: config.endpoint, maxAttempts: 1 });
    this.retry = {
      policy: { ...DEFAULT_RETRY, ...config.retry },
      sleep: config.sleep ?? sleepUnlessAborted,
      random: config.random ?? Math.random,
    };
    this.now = config.now ?? Date.now;
    this.userData = config.bootstrapUserData ?? eksBootstrapUserData;
  }

  async launchNode(request: NodeRequest, signal?: AbortSignal): Promise<LaunchedNode> {
    const output = await this.call(() => this.client.send(new RunInstancesCommand(this.runInput(request)), { abortSignal: signal }), signal);
    const instance = output.Instances?.[0];
    if (!instance?.InstanceId) {
      throw new Ec2ProviderError('MalformedResponse', `RunInstances for ${request.clientToken} returned no instance`, true);
    }
    const nodeName = instance.PrivateDnsName || (await this.privateDnsName(instance.InstanceId, signal));
    return { instanceId: instance.InstanceId, nodeName };
  }

  async checkNodes(_deploymentId: string, nodes: readonly LaunchedNode[], signal?: AbortSignal): Promise<ReadinessCheck> {
    const ids = nodes.map((n) => n.instanceId);
    if (ids.length === 0) return { state: 'ready' };
    const statuses = new Map<string, InstanceStatus>();
    try {
      for (const batch of chunk(ids, STATUS_BATCH)) {
        const out = await this.call(
          () =>
            this.client.send(new DescribeInstanceStatusCommand({ InstanceIds: batch, IncludeAllInstances: true }), {
              abortSignal: signal,
            }),
          signal,
        );
        for (const s of out.InstanceStatuses ?? []) if (s.InstanceId) statuses.set(s.InstanceId, s);
      }
    } catch (err) {
      // Just after RunInstances, EC2's eventual consistency can deny the instance exists.
      if (ec2ErrorCode(err) === NOT_FOUND) return { state: 'pending', detail: `not visible yet: ${(err as Error).message}` };
      throw err;
    }

    const failed = ids.filter((id) => FAILED_STATES.has(statuses.get(id)?.InstanceState?.Name ?? ''));
    if (failed.length > 0) return this.failedCheck(failed, statuses, signal);
    const waiting = ids.flatMap((id) => {
      const s = statuses.get(id);
      if (!s) return [`${id}: not reported yet`];
      const state = s.InstanceState?.Name ?? 'unknown';
      const instance = s.InstanceStatus?.Status ?? 'unknown';
      const system = s.SystemStatus?.Status ?? 'unknown';
      return state === 'running' && instance === 'ok' && system === 'ok'
        ? []
        : [`${id}: ${state}, instance status ${instance}, system status ${system}`];
    });
    return waiting.length === 0 ? { state: 'ready' } : { state: 'pending', detail: waiting.join('; ') };
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

  async terminateInstances(_deploymentId: string, instanceIds: readonly string[], signal?: AbortSignal): Promise<void> {
    for (const batch of chunk([...new Set(instanceIds)], TERMINATE_BATCH)) await this.terminateBatch(batch, signal);
  }

  async terminateDeployment(deploymentId: string, signal?: AbortSignal): Promise<string[]> {
    const instances = await this.describeInstances(
      [
        { Name: `tag:${DEPLOYMENT_TAG}`, Values: [deploymentId] },
        { Name: `tag:${CONTROL_PLANE_TAG}`, Values: [CONTROL_PLANE_TAG_VALUE] },
        { Name: 'instance-state-name', Values: LIVE_STATES },
      ],
      signal,
    );
    const ids = instances.flatMap((i) => (i.InstanceId ? [i.InstanceId] : []));
    await this.terminateInstances(deploymentId, ids, signal);
    return ids;
  }

  async listManagedInstances(signal?: AbortSignal): Promise<ManagedInstance[]> {
    const instances = await this.describeInstances(
      [
        { Name: `tag:${CONTROL_PLANE_TAG}`, Values: [CONTROL_PLANE_TAG_VALUE] },
        { Name: 'instance-state-name', Values: ['pending', 'running', 'shutting-down', 'stopping', 'stopped'] },
      ],
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

  private runInput(request: NodeRequest): RunInstancesCommandInput {
    const { config } = this;
    const template = config.launchTemplate;
    const tags = this.tags(request);
    const userData = this.userData({
      clusterName: config.clusterName,
      deploymentId: request.deploymentId,
      owner: request.owner,
      role: request.role,
      index: request.index,
    });
    return {
      MinCount: 1,
      MaxCount: 1,
      ClientToken: request.clientToken,
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
      ...(config.subnetIds.length > 0 ? { SubnetId: config.subnetIds[request.index % config.subnetIds.length] } : {}),
      ...(config.securityGroupIds.length > 0 ? { SecurityGroupIds: [...config.securityGroupIds] } : {}),
      ...(config.instanceProfileArn ? { IamInstanceProfile: { Arn: config.instanceProfileArn } } : {}),
      ...(config.keyName ? { KeyName: config.keyName } : {}),
      UserData: Buffer.from(userData, 'utf8').toString('base64'),
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
    const out = await this.call(
      () => this.client.send(new DescribeInstancesCommand({ InstanceIds: [instanceId] }), { abortSignal: signal }),
      signal,
    );
    const name = out.Reservations?.[0]?.Instances?.[0]?.PrivateDnsName;
    if (!name) throw new Ec2ProviderError('NodeNameUnavailable', `${instanceId} has no PrivateDnsName yet`, true);
    return name;
  }

  private async failedCheck(
    failed: readonly string[],
    statuses: ReadonlyMap<string, InstanceStatus>,
    signal?: AbortSignal,
  ): Promise<ReadinessCheck> {
    // DescribeInstanceStatus has no StateReason; DescribeInstances says why it stopped.
    const reasons = new Map<string, string>();
    const out = await this.call(
      () => this.client.send(new DescribeInstancesCommand({ InstanceIds: [...failed] }), { abortSignal: signal }),
      signal,
    ).catch((err: unknown) => {
      // The state alone already says the node failed; the reason is a courtesy.
      if (signal?.aborted) throw err;
      return undefined;
    });
    let transient = false;
    for (const instance of out?.Reservations?.flatMap((r) => r.Instances ?? []) ?? []) {
      const reason = instance.StateReason;
      if (instance.InstanceId && reason) reasons.set(instance.InstanceId, `${reason.Code ?? ''}: ${reason.Message ?? ''}`);
      // Capacity ran out or EC2 failed on its side: the same request may work later.
      if (/InsufficientInstanceCapacity|InternalError/.test(reason?.Code ?? '')) transient = true;
    }
    const message = failed
      .map((id) => `${id} is ${statuses.get(id)?.InstanceState?.Name}${reasons.has(id) ? ` (${reasons.get(id)})` : ''}`)
      .join('; ');
    return { state: 'failed', error: { code: 'InstanceNotRunning', message, transient } };
  }

  private async terminateBatch(ids: readonly string[], signal?: AbortSignal): Promise<void> {
    let remaining = [...ids];
    while (remaining.length > 0) {
      try {
        await this.call(
          () => this.client.send(new TerminateInstancesCommand({ InstanceIds: remaining }), { abortSignal: signal }),
          signal,
        );
        return;
      } catch (err) {
        if (ec2ErrorCode(err) !== NOT_FOUND) throw err;
        // EC2 refuses the whole batch when one id is unknown, naming the unknown ones.
        const gone = new Set(String((err as Error).message).match(/i-[0-9a-zA-Z]+/g) ?? []);
        const rest = remaining.filter((id) => !gone.has(id));
        if (rest.length === remaining.length) {
          // Could not tell which ids are unknown: one by one, so the known ones still go.
          if (remaining.length === 1) return;
          for (const id of remaining) await this.terminateBatch([id], signal);
          return;
        }
        remaining = rest;
      }
    }
  }

  private async describeInstances(filters: Filter[], signal?: AbortSignal): Promise<Instance[]> {
    const found: Instance[] = [];
    let nextToken: string | undefined;
    // A retry resumes from the last page read instead of starting over.
    await this.call(async () => {
      const pages = paginateDescribeInstances(
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
