export * from './event-store';
export * from './command-handler';
export * from './esdb';
