export { classifyKubernetesError } from './errors';
export {
  DEFAULT_CLUSTER_DNS,
  DEFAULT_SIMULATOR_CLIENTS,
  DRAIN_STARTED_ANNOTATION,
  KubernetesPodRuntime,
  loadDefaultKubeConfig,
  loadKubeConfigFile,
} from './kubernetes-pod-runtime';
export type { KubernetesPodRuntimeConfig } from './kubernetes-pod-runtime';
export { INSTANCE_METADATA_CIDRS, POD_ROLE_LABEL, ROBOT_INDEX_LABEL, buildNetworkPolicies, buildPod, buildService } from './manifests';
export type { EgressDestination, ManifestSettings, PeerSelector } from './manifests';
export { DEFAULT_INSTANCE_SIZES, FALLBACK_INSTANCE_SIZE } from './resources';
export type { InstanceSize } from './resources';
