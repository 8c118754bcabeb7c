export * from './event-store';
export * from './command-handler';
export * from './jetstream';
export * from './esdb';
