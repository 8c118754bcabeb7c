export { JetStreamEventStore, MAX_EVENTS_PER_APPEND } from './jetstream-event-store';
export type { JetStreamEventStoreOptions } from './jetstream-event-store';
