export * from './deployment-view';
export * from './deployments-read-model';
export * from './held-resources';
