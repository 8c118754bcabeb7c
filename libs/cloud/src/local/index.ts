export { LocalNodeProvider, localInstanceIdFor, localNodeNameFor } from './local-node-provider';
export type { LocalNodeProviderOptions } from './local-node-provider';
export { LocalPodRuntime } from './local-pod-runtime';
export type { LocalPodRuntimeOptions } from './local-pod-runtime';
export type { SimulatorSocketMode } from './pod-host-protocol';
export { SIMULATOR_GONE_CLOSE_CODE } from './simulator-socket';
export { claimOwnership, isOwnerAlive, releaseAndKillAll } from './runtime-owner';
export { DEFAULT_LOCAL_STATE_DIR } from './state-files';
