export { EsdbEventStore } from './esdb-event-store';
export { ESDB_STREAM_PREFIX } from './errors';
export type { EsdbEventStoreOptions } from './esdb-event-store';
export { MINIMUM_SERVER_MAJOR, UnsupportedServerError } from './server-version';
