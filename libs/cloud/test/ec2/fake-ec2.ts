import {
  DescribeInstanceStatusCommand,
  DescribeInstancesCommand,
  RunInstancesCommand,
  TerminateInstancesCommand,
  type DescribeInstanceStatusCommandInput,
  type DescribeInstancesCommandInput,
  type EC2Client,
  type Filter,
  type Instance,
  type InstanceStateName,
  type RunInstancesCommandInput,
  type SummaryStatus,
  type TerminateInstancesCommandInput,
} from '@aws-sdk/client-ec2';
import type { AwsClientStub } from 'aws-sdk-client-mock';
import { ec2Error } from './sdk-errors';

/** A live instance in the fake, with what DescribeInstances / DescribeInstanceStatus report. */
export interface FakeInstance {
  id: string;
  subnetId: string | undefined;
  zone: string;
  clientToken: string;
  instanceType: string;
  imageId: string | undefined;
  /** What RunInstances was given, decoded: what the machine's bootstrap (and its kubelet) is told. */
  userData: string;
  state: InstanceStateName;
  launchedAt: number;
  terminatedAt?: number;
  tags: Array<{ Key: string; Value: string }>;
  privateDnsName: string;
  instanceStatus: SummaryStatus;
  systemStatus: SummaryStatus;
  /** When a status check failed. */
  impairedSince?: number;
}

export type ZoneAnswer = 'ok' | 'InsufficientInstanceCapacity' | 'Unsupported' | 'InsufficientFreeAddressesInSubnet';

export interface FakeEc2Options {
  /** subnet id -> Availability Zone. */
  subnets: Record<string, string>;
  now: () => number;
  /** How long after launch EC2's read and terminate paths still answer NotFound (eventual consistency). */
  visibleAfterMs?: number;
  region?: string;
  /** Answer RunInstances without PrivateDnsName, as some emulators do. */
  runAnswersWithoutDnsName?: boolean;
  /** How long after launch an instance leaves `pending` for `running`; without it, instances stay pending. */
  bootMs?: number;
  /** How long after it runs an instance's status checks stop `initializing`; without it, they never finish. */
  statusChecksMs?: number;
  /** AMIs that boot into something unreachable: their instance status check fails (reachability) once it finishes. */
  unbootableImages?: readonly string[];
}

// The low byte of InstanceState.Code, as EC2 documents it.
const STATE_CODES: Record<InstanceStateName, number> = { pending: 0, running: 16, 'shutting-down': 32, terminated: 48, stopping: 64, stopped: 80 };

const notFound = (ids: readonly string[]) =>
  ec2Error(
    'InvalidInstanceID.NotFound',
    400,
    ids.length === 1 ? `The instance ID '${ids[0]}' does not exist` : `The instance IDs '${ids.join(', ')}' do not exist`,
  );

/** What the SDK throws when a request got no answer in time: no HTTP status, outcome unknown. */
export const lostAnswer = (): Error =>
  Object.assign(new Error('@smithy/node-http-handler - the request socket timed out after 5000 ms of inactivity'), {
    name: 'TimeoutError',
    $metadata: { attempts: 1, totalRetryDelay: 0 },
  });

/**
 * EC2 as its documentation describes it, for the parts the provider relies on:
 * - RunInstances is idempotent per client token, zonal when a subnet is given: the same token
 *   in another zone launches another instance; in the same zone with other parameters it is
 *   refused with IdempotentParameterMismatch. A refused launch leaves nothing behind.
 * - A new instance is invisible to Describe* and TerminateInstances for a while (NotFound).
 * - TerminateInstances and Describe* with InstanceIds refuse the whole call when one id is
 *   unknown, naming it; filters never fail on unknown ids.
 * - A terminated instance stays visible for an hour, then is gone (NotFound).
 * - With `bootMs`/`statusChecksMs`, time moves an instance from `pending` to `running`, then
 *   its status checks from `initializing` to `ok` (or the instance check to `impaired`, with
 *   a failed reachability detail, for an unbootable image). DescribeInstanceStatus reports
 *   checks only for running instances; the others are `not-applicable`.
 */
export class FakeEc2 {
  readonly instances = new Map<string, FakeInstance>();
  /** What a launch in a zone (or subnet) answers; default 'ok'. */
  readonly zoneAnswers = new Map<string, ZoneAnswer>();
  /** Launches carried out whose answer is then lost (the caller sees a timeout). */
  loseNextRunAnswers = 0;
  private readonly tokens = new Map<string, { signature: string; instanceId: string }>();
  private counter = 0;

  constructor(private readonly options: FakeEc2Options) {}

  install(ec2: AwsClientStub<EC2Client>): this {
    ec2.on(RunInstancesCommand).callsFake(async (input: RunInstancesCommandInput) => this.boot().runInstances(input));
    ec2.on(DescribeInstancesCommand).callsFake(async (input: DescribeInstancesCommandInput) => this.boot().describeInstances(input));
    ec2.on(TerminateInstancesCommand).callsFake(async (input: TerminateInstancesCommandInput) => this.boot().terminateInstances(input));
    ec2.on(DescribeInstanceStatusCommand).callsFake(async (input: DescribeInstanceStatusCommandInput) => this.boot().describeStatus(input));
    return this;
  }

  /** Instances as they are now: those that booted run, and the status checks of those that ran long enough are done. */
  boot(): this {
    const { bootMs, statusChecksMs, unbootableImages = [] } = this.options;
    const now = this.options.now();
    for (const instance of this.instances.values()) {
      if (bootMs === undefined) break;
      if (instance.state === 'pending' && now >= instance.launchedAt + bootMs) instance.state = 'running';
      const checksDone = statusChecksMs !== undefined && now >= instance.launchedAt + bootMs + statusChecksMs;
      if (instance.state === 'running' && instance.instanceStatus === 'initializing' && checksDone) {
        const unbootable = instance.imageId !== undefined && unbootableImages.includes(instance.imageId);
        instance.systemStatus = 'ok';
        instance.instanceStatus = unbootable ? 'impaired' : 'ok';
        if (unbootable) instance.impairedSince = instance.launchedAt + bootMs + statusChecksMs;
      }
    }
    return this;
  }

  live(): FakeInstance[] {
    return [...this.instances.values()].filter((i) => i.state !== 'terminated' && i.state !== 'shutting-down');
  }

  private visible(instance: FakeInstance): boolean {
    const now = this.options.now();
    if (now < instance.launchedAt + (this.options.visibleAfterMs ?? 0)) return false;
    return instance.terminatedAt === undefined || now < instance.terminatedAt + 3_600_000;
  }

  private runInstances(input: RunInstancesCommandInput) {
    const zone = input.SubnetId ? this.options.subnets[input.SubnetId] : (this.options.region ?? 'us-east-1');
    if (!zone) throw ec2Error('InvalidSubnetID.NotFound', 400, `The subnet ID '${input.SubnetId}' does not exist`);
    const key = `${input.ClientToken}|${zone}`;
    const { ClientToken: _token, ...parameters } = input;
    const signature = JSON.stringify(parameters);
    const earlier = input.ClientToken ? this.tokens.get(key) : undefined;
    if (earlier) {
      if (earlier.signature !== signature) {
        throw ec2Error('IdempotentParameterMismatch', 400, 'Arguments on this idempotent request are inconsistent with arguments used in previous request(s).');
      }
      return this.reservation(this.instances.get(earlier.instanceId) as FakeInstance);
    }
    const answer = (input.SubnetId && this.zoneAnswers.get(input.SubnetId)) || this.zoneAnswers.get(zone) || 'ok';
    if (answer === 'InsufficientInstanceCapacity') {
      throw ec2Error(
        answer,
        500,
        `We currently do not have sufficient ${input.InstanceType} capacity in the Availability Zone you requested (${zone}). Our system will be working on provisioning additional capacity.`,
      );
    }
    if (answer === 'Unsupported') {
      throw ec2Error(answer, 400, `Your requested instance type (${input.InstanceType}) is not supported in your requested Availability Zone (${zone}).`);
    }
    if (answer === 'InsufficientFreeAddressesInSubnet') {
      throw ec2Error(answer, 400, `There are not enough free addresses in subnet '${input.SubnetId}' to satisfy the requested number of instances.`);
    }
    this.counter++;
    const instance: FakeInstance = {
      id: `i-0${this.counter.toString(16).padStart(16, '0')}`,
      subnetId: input.SubnetId,
      zone,
      clientToken: input.ClientToken ?? '',
      instanceType: String(input.InstanceType),
      imageId: input.ImageId,
      userData: Buffer.from(input.UserData ?? '', 'base64').toString('utf8'),
      state: 'pending',
      launchedAt: this.options.now(),
      tags: (input.TagSpecifications?.find((t) => t.ResourceType === 'instance')?.Tags ?? []) as FakeInstance['tags'],
      privateDnsName: `ip-10-0-${this.counter}-10.ec2.internal`,
      instanceStatus: 'initializing',
      systemStatus: 'initializing',
    };
    this.instances.set(instance.id, instance);
    if (input.ClientToken) this.tokens.set(key, { signature, instanceId: instance.id });
    if (this.loseNextRunAnswers > 0) {
      this.loseNextRunAnswers--;
      throw lostAnswer();
    }
    return this.reservation(instance);
  }

  private reservation(instance: FakeInstance) {
    const described = this.describe(instance);
    if (this.options.runAnswersWithoutDnsName) described.PrivateDnsName = '';
    return { ReservationId: `r-${instance.id.slice(2)}`, Instances: [described] };
  }

  private describe(instance: FakeInstance): Instance {
    return {
      InstanceId: instance.id,
      InstanceType: instance.instanceType as Instance['InstanceType'],
      ...(instance.imageId ? { ImageId: instance.imageId } : {}),
      ClientToken: instance.clientToken,
      SubnetId: instance.subnetId,
      Placement: { AvailabilityZone: instance.zone },
      PrivateDnsName: instance.privateDnsName,
      LaunchTime: new Date(instance.launchedAt),
      State: { Name: instance.state, Code: STATE_CODES[instance.state] },
      Tags: instance.tags,
    };
  }

  private unknownIds(ids: readonly string[]): string[] {
    return ids.filter((id) => {
      const instance = this.instances.get(id);
      return !instance || !this.visible(instance);
    });
  }

  private describeInstances(input: DescribeInstancesCommandInput) {
    const ids = input.InstanceIds ?? [];
    const unknown = this.unknownIds(ids);
    if (unknown.length > 0) throw notFound(unknown);
    const matches = [...this.instances.values()].filter(
      (i) => this.visible(i) && (ids.length === 0 || ids.includes(i.id)) && (input.Filters ?? []).every((f) => this.matches(i, f)),
    );
    return { Reservations: matches.map((i) => ({ Instances: [this.describe(i)] })) };
  }

  private matches(instance: FakeInstance, filter: Filter): boolean {
    const values = filter.Values ?? [];
    const name = filter.Name ?? '';
    if (name === 'instance-id') return values.includes(instance.id);
    if (name === 'client-token') return values.includes(instance.clientToken);
    if (name === 'instance-state-name') return values.includes(instance.state);
    if (name.startsWith('tag:')) return instance.tags.some((t) => t.Key === name.slice(4) && values.includes(t.Value));
    throw ec2Error('InvalidParameterValue', 400, `The filter '${name}' is invalid`);
  }

  private terminateInstances(input: TerminateInstancesCommandInput) {
    const ids = input.InstanceIds ?? [];
    const unknown = this.unknownIds(ids);
    if (unknown.length > 0) throw notFound(unknown);
    return {
      TerminatingInstances: ids.map((id) => {
        const instance = this.instances.get(id) as FakeInstance;
        const previous = instance.state;
        if (instance.state !== 'terminated') {
          instance.state = 'terminated';
          instance.terminatedAt = this.options.now();
        }
        return { InstanceId: id, PreviousState: { Name: previous }, CurrentState: { Name: instance.state } };
      }),
    };
  }

  private describeStatus(input: DescribeInstanceStatusCommandInput) {
    const ids = input.InstanceIds ?? [];
    const unknown = this.unknownIds(ids);
    if (unknown.length > 0) throw notFound(unknown);
    return {
      InstanceStatuses: ids.map((id) => {
        const i = this.instances.get(id) as FakeInstance;
        const up = i.state === 'running';
        const summary = (status: SummaryStatus, impairedSince?: number) =>
          up
            ? {
                Status: status,
                Details: [
                  {
                    Name: 'reachability' as const,
                    Status: status === 'ok' ? ('passed' as const) : status === 'impaired' ? ('failed' as const) : ('initializing' as const),
                    ...(status === 'impaired' && impairedSince !== undefined ? { ImpairedSince: new Date(impairedSince) } : {}),
                  },
                ],
              }
            : { Status: 'not-applicable' as const };
        return {
          InstanceId: id,
          AvailabilityZone: i.zone,
          InstanceState: { Name: i.state, Code: STATE_CODES[i.state] },
          InstanceStatus: summary(i.instanceStatus, i.impairedSince),
          SystemStatus: summary(i.systemStatus),
        };
      }),
    };
  }
}
