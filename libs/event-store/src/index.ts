export * from './event-store';
export * from './jetstream';
export * from './esdb';
export * from './in-memory';
export { ResumingSubscription, backoffDelay } from './resuming-subscription';
export type { BackoffOptions, Checkpoint, ResumingSubscriptionOptions, SourceItem, SubscriptionSource } from './resuming-subscription';
export { readAllPages } from './read-all-pages';
export type { ReadAllPagesOptions } from './read-all-pages';
