export * from './logger';
export * from './health-server';
export * from './setup';
export * from './worker-health';
