export { EsdbEventStore, ESDB_STREAM_PREFIX } from './esdb-event-store';
export type { EsdbEventStoreOptions } from './esdb-event-store';
export { ResumingSubscription, backoffDelay } from './resuming-subscription';
export type { BackoffOptions, Checkpoint, ResumingSubscriptionOptions, SourceItem, SubscriptionSource } from './resuming-subscription';
