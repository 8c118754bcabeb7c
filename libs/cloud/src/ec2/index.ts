export { DEFAULT_CONSISTENCY, Ec2NodeProvider, INSTALLATION_TAG, LABEL_TAG_PREFIX } from './ec2-node-provider';
export type { ConsistencyPolicy, Ec2NodeProviderConfig, LaunchTemplateRef, WaitForNodesOptions } from './ec2-node-provider';
export { Ec2ProviderError, classifyEc2Error, ec2ErrorCode, notFoundIds, refusedWithoutEffect } from './ec2-errors';
export { launchTokenFor, subnetOrderFor } from './placement';
export { DEFAULT_RETRY, backoffDelay, retryTransient, sleepUnlessAborted } from './retry';
export type { RetryDeps, RetryPolicy, Sleep } from './retry';
export { GROUP_ID_LABEL, al2023UserData, al2UserData, clusterDnsIp, dedicatedTaintFlag, nodeLabelsFlag, shellQuote } from './user-data';
export type { BootstrapContext, EksClusterDetails, NodeBootstrap } from './user-data';
