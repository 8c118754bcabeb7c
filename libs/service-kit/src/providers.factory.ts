import type { EC2Client } from '@aws-sdk/client-ec2';
import type { S3Client } from '@aws-sdk/client-s3';
import type { KubeConfig } from '@kubernetes/client-node';
import {
  Ec2NodeProvider,
  KubernetesPodRuntime,
  LocalFolderLogArchive,
  NodeProvider,
  PodRuntime,
  ProviderError,
  S3LogArchive,
  type LogArchive,
  type KubernetesPodRuntimeConfig,
  type PeerSelector,
  loadDefaultKubeConfig,
  loadKubeConfigFile,
  type Ec2NodeProviderConfig,
  type LaunchTemplateRef,
} from '@simdeploy/cloud';
import type { ProviderConfig } from '@simdeploy/config';
import { ProviderRegistry, type Providers } from '@simdeploy/workflows';

/** Seams for tests and tools that bring their own clients; production builds them from the config. */
export interface AwsClients {
  ec2Client?: EC2Client;
  kubeConfig?: KubeConfig;
  s3Client?: S3Client;
}

/** `lt-0abc`, `lt-0abc:3`, `my-template:$Latest` -> the reference the EC2 provider takes. */
export function parseLaunchTemplate(value: string): LaunchTemplateRef {
  const colon = value.indexOf(':');
  const key = colon < 0 ? value : value.slice(0, colon);
  const version = colon < 0 ? {} : { version: value.slice(colon + 1) };
  return /^lt-[0-9a-f]+$/.test(key) ? { id: key, ...version } : { name: key, ...version };
}

export function ec2ConfigFrom(config: ProviderConfig): Ec2NodeProviderConfig {
  const required = (name: 'AWS_REGION' | 'EC2_CLUSTER_NAME' | 'INSTALLATION_ID'): string => {
    const value = config[name];
    if (!value) throw new Error(`${name} is required for the aws provider`);
    return value;
  };
  const { EC2_CLUSTER_ENDPOINT: apiServerEndpoint, EC2_CLUSTER_CA: certificateAuthority, EC2_CLUSTER_SERVICE_CIDR: serviceCidr } = config;
  return {
    region: required('AWS_REGION'),
    clusterName: required('EC2_CLUSTER_NAME'),
    installationId: required('INSTALLATION_ID'),
    nodeBootstrap: config.EC2_NODE_BOOTSTRAP,
    ...(apiServerEndpoint && certificateAuthority && serviceCidr ? { cluster: { apiServerEndpoint, certificateAuthority, serviceCidr } } : {}),
    ...(config.EC2_IMAGE_ID ? { imageId: config.EC2_IMAGE_ID } : {}),
    ...(config.EC2_LAUNCH_TEMPLATE ? { launchTemplate: parseLaunchTemplate(config.EC2_LAUNCH_TEMPLATE) } : {}),
    subnetIds: config.EC2_SUBNET_IDS ?? [],
    securityGroupIds: config.EC2_SECURITY_GROUP_IDS ?? [],
    ...(config.EC2_INSTANCE_PROFILE_ARN ? { instanceProfileArn: config.EC2_INSTANCE_PROFILE_ARN } : {}),
    ...(config.AWS_ENDPOINT_URL ? { endpoint: config.AWS_ENDPOINT_URL } : {}),
    // The lifecycle retries each call itself (callProvider); retrying inside the provider too would multiply the tries.
    retry: { maxAttempts: 1 },
  };
}

/** KUBECONFIG when set, else ~/.kube/config or the pod's service account. */
export function kubeConfigFrom(config: ProviderConfig): KubeConfig {
  return config.KUBECONFIG ? loadKubeConfigFile(config.KUBECONFIG) : loadDefaultKubeConfig();
}

/** EC2 machines that join the cluster, and the workloads on them. Constructs only: nothing is called. */
export function awsProviders(config: ProviderConfig, clients: AwsClients = {}): Providers {
  return {
    nodes: new Ec2NodeProvider(ec2ConfigFrom(config), clients.ec2Client),
    pods: new KubernetesPodRuntime(kubernetesConfigFrom(config, clients.kubeConfig ?? kubeConfigFrom(config))),
  };
}

/** The Kubernetes runtime's settings from K8S_* (and the deprecated CONTROL_PLANE_CIDR). */
export function kubernetesConfigFrom(config: ProviderConfig, kubeConfig: KubeConfig): KubernetesPodRuntimeConfig {
  return {
    kubeConfig,
    namespace: config.K8S_NAMESPACE,
    ...(config.CONTROL_PLANE_CIDR ? { controlPlaneCidr: config.CONTROL_PLANE_CIDR } : {}),
    ...(config.K8S_SIMULATOR_CLIENTS ? { simulatorClients: config.K8S_SIMULATOR_CLIENTS as PeerSelector[] } : {}),
    ...(config.K8S_ALLOWED_EGRESS ? { allowedEgress: config.K8S_ALLOWED_EGRESS } : {}),
    ...(config.K8S_API_SERVER_CIDRS ? { apiServerCidrs: config.K8S_API_SERVER_CIDRS } : {}),
    ...(config.K8S_DENIED_EGRESS_CIDRS ? { deniedEgressCidrs: config.K8S_DENIED_EGRESS_CIDRS } : {}),
    ...(config.K8S_IMAGE_PULL_SECRETS ? { imagePullSecrets: config.K8S_IMAGE_PULL_SECRETS } : {}),
    runAsNonRoot: config.K8S_RUN_AS_NON_ROOT,
    forceDeleteAfterSeconds: config.K8S_FORCE_DELETE_AFTER_S,
    drainTimeoutSeconds: config.K8S_DRAIN_TIMEOUT_S,
    imagePullBackOffLimit: config.K8S_IMAGE_PULL_BACKOFF_LIMIT,
  };
}

/** Where pods' logs are archived: LOG_ARCHIVE_S3_BUCKET when set, else the LOG_ARCHIVE_DIR folder. Every service must name the same. */
export function createLogArchive(config: ProviderConfig, clients: AwsClients = {}): LogArchive {
  if (!config.LOG_ARCHIVE_S3_BUCKET) return new LocalFolderLogArchive(config.LOG_ARCHIVE_DIR);
  return new S3LogArchive(
    { bucket: config.LOG_ARCHIVE_S3_BUCKET, prefix: config.LOG_ARCHIVE_S3_PREFIX, ...(config.AWS_REGION ? { region: config.AWS_REGION } : {}) },
    ...(clients.s3Client ? [clients.s3Client] : []),
  );
}

const refusal = (name: string, service: string): ProviderError =>
  new ProviderError(
    'ProviderNotConfigured',
    `provider "${name}" is not configured in ${service}` +
      (name === 'aws' ? ': set ENABLE_AWS=true (or PROVIDER=aws) and the AWS settings, see docs/aws.md' : ''),
    false,
  );

/*
 * Stand-ins for a provider this service was not configured for. Every call is a permanent
 * failure, so the deployment's step fails once with a message an operator can act on
 * instead of the command being redelivered forever. Nothing pretends to be gone: the
 * machines may exist, started by a service that was configured.
 */
class UnconfiguredNodeProvider extends NodeProvider {
  constructor(private readonly refuse: () => ProviderError) {
    super();
  }
  launchNode = async (): Promise<never> => Promise.reject(this.refuse());
  checkNodes = this.launchNode;
  terminateInstances = this.launchNode;
  terminateDeployment = this.launchNode;
  listManagedInstances = this.launchNode;
}

class UnconfiguredPodRuntime extends PodRuntime {
  constructor(private readonly refuse: () => ProviderError) {
    super();
  }
  checkNodesJoined = async (): Promise<never> => Promise.reject(this.refuse());
  createWorkload = this.checkNodesJoined;
  checkWorkload = this.checkNodesJoined;
  deleteWorkload = this.checkNodesJoined;
  deleteNodes = this.checkNodesJoined;
  listManagedWorkloads = this.checkNodesJoined;
  simulatorEndpoint = this.checkNodesJoined;
  readLogs = this.checkNodesJoined;
}

export function unconfiguredProviders(name: string, service: string): Providers {
  const refuse = () => refusal(name, service);
  return { nodes: new UnconfiguredNodeProvider(refuse), pods: new UnconfiguredPodRuntime(refuse) };
}

/** A registry whose unknown providers fail their steps permanently rather than throwing from the workflow. */
export class WorkerProviderRegistry extends ProviderRegistry {
  constructor(
    providers: Record<string, Providers>,
    defaultProvider: string,
    private readonly service: string,
    archive?: LogArchive,
  ) {
    super(providers, defaultProvider, archive);
  }

  override get(name: string): Providers {
    return this.has(name) ? super.get(name) : unconfiguredProviders(name, this.service);
  }
}
