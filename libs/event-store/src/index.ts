export * from './event-store';
export * from './jetstream';
export * from './esdb';
export * from './in-memory';
