export { classifyKubernetesError } from './errors';
export { KubernetesPodRuntime, loadDefaultKubeConfig } from './kubernetes-pod-runtime';
export type { KubernetesPodRuntimeConfig } from './kubernetes-pod-runtime';
export { POD_ROLE_LABEL, ROBOT_INDEX_LABEL, buildNetworkPolicies, buildPod, buildService } from './manifests';
export type { ManifestSettings } from './manifests';
