export { Ec2NodeProvider, LABEL_TAG_PREFIX } from './ec2-node-provider';
export type { Ec2NodeProviderConfig, LaunchTemplateRef, WaitForNodesOptions } from './ec2-node-provider';
export { Ec2ProviderError, classifyEc2Error, ec2ErrorCode } from './ec2-errors';
export { DEFAULT_RETRY, backoffDelay, retryTransient, sleepUnlessAborted } from './retry';
export type { RetryDeps, RetryPolicy, Sleep } from './retry';
export { GROUP_ID_LABEL, eksBootstrapUserData, shellQuote } from './user-data';
export type { BootstrapContext } from './user-data';
