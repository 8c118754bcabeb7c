import type { V1ResourceRequirements } from '@kubernetes/client-node';
import type { ResourceRequest } from '@simdeploy/domain';

/** What an instance type offers (capacity, before the kubelet's and DaemonSets' share). */
export interface InstanceSize {
  vcpus: number;
  memoryMiB: number;
  gpus?: number;
}

/** Common EC2 types for simulations; anything else uses the fallback unless the operator adds it. */
export const DEFAULT_INSTANCE_SIZES: Readonly<Record<string, InstanceSize>> = {
  't3.medium': { vcpus: 2, memoryMiB: 4096 },
  't3.large': { vcpus: 2, memoryMiB: 8192 },
  't3.xlarge': { vcpus: 4, memoryMiB: 16384 },
  'm5.large': { vcpus: 2, memoryMiB: 8192 },
  'm5.xlarge': { vcpus: 4, memoryMiB: 16384 },
  'm5.2xlarge': { vcpus: 8, memoryMiB: 32768 },
  'm6i.xlarge': { vcpus: 4, memoryMiB: 16384 },
  'm6i.2xlarge': { vcpus: 8, memoryMiB: 32768 },
  'c5.xlarge': { vcpus: 4, memoryMiB: 8192 },
  'c5.2xlarge': { vcpus: 8, memoryMiB: 16384 },
  'c5.4xlarge': { vcpus: 16, memoryMiB: 32768 },
  'g4dn.xlarge': { vcpus: 4, memoryMiB: 16384, gpus: 1 },
  'g4dn.2xlarge': { vcpus: 8, memoryMiB: 32768, gpus: 1 },
  'g5.xlarge': { vcpus: 4, memoryMiB: 16384, gpus: 1 },
  'g5.2xlarge': { vcpus: 8, memoryMiB: 32768, gpus: 1 },
  'g6.xlarge': { vcpus: 4, memoryMiB: 16384, gpus: 1 },
};

export const FALLBACK_INSTANCE_SIZE: InstanceSize = { vcpus: 2, memoryMiB: 4096 };

/**
 * The part of a node its pods may ask for: the kubelet reserves CPU and memory for itself and
 * the system, and DaemonSets (CNI, kube-proxy) take their share, so asking for the whole
 * capacity would leave a pod unschedulable.
 */
export const DEFAULT_ALLOCATABLE_FRACTION = 0.75;

export const GPU_RESOURCE = 'nvidia.com/gpu';

export interface ResourceSettings {
  instanceSizes: Readonly<Record<string, InstanceSize>>;
  fallbackInstanceSize: InstanceSize;
  allocatableFraction: number;
}

/**
 * Requests equal to limits (the Guaranteed class: the last pods the kubelet evicts under
 * pressure), from the spec where it says, else an equal share of what the node offers to
 * the `sharing` pods placed on it. A GPU is only ever given when asked for, except to the
 * simulator on a GPU instance, which renders with it.
 */
export function resourcesFor(
  instanceType: string,
  requested: ResourceRequest | undefined,
  sharing: number,
  defaultGpus: number,
  settings: ResourceSettings,
): V1ResourceRequirements {
  const size = settings.instanceSizes[instanceType] ?? settings.fallbackInstanceSize;
  const share = settings.allocatableFraction / Math.max(1, sharing);
  const cpu = requested?.cpu ?? `${Math.max(100, Math.floor(size.vcpus * 1000 * share))}m`;
  const memory = requested?.memory ?? `${Math.max(128, Math.floor(size.memoryMiB * share))}Mi`;
  const gpus = requested?.gpu ?? defaultGpus;
  const quantities: Record<string, string> = { cpu, memory };
  if (gpus > 0) quantities[GPU_RESOURCE] = String(gpus);
  return { requests: { ...quantities }, limits: { ...quantities } };
}

export const gpusOf = (instanceType: string, settings: ResourceSettings): number =>
  (settings.instanceSizes[instanceType] ?? settings.fallbackInstanceSize).gpus ?? 0;
