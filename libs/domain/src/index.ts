export * from './errors';
export * from './simulation/status';
export * from './simulation/events';
export * from './simulation/commands';
export * from './simulation/state';
export * from './simulation/plan';
export * from './simulation/decide';
export * from './simulation/process';
