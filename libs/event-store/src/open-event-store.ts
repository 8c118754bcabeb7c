import type { NatsConnection } from '@nats-io/transport-node';
import { EsdbEventStore } from './esdb';
import type { EventStore } from './event-store';
import { JetStreamEventStore } from './jetstream';

/** The variables that name the event store (CommonConfig has them). */
export interface EventStoreSettings {
  EVENT_STORE: 'jetstream' | 'esdb';
  ESDB_CONNECTION_STRING?: string;
  EVENTS_STREAM: string;
  EVENTS_SUBJECT_PREFIX: string;
}

/**
 * The event store the configuration names, for the services and the audit CLI alike; JetStream
 * needs the NATS connection, EventStoreDB does not.
 */
export async function openEventStore(settings: EventStoreSettings, nc: NatsConnection | null): Promise<EventStore> {
  if (settings.EVENT_STORE === 'esdb') return new EsdbEventStore({ connectionString: settings.ESDB_CONNECTION_STRING });
  if (!nc) throw new Error('EVENT_STORE=jetstream needs a NATS connection');
  return JetStreamEventStore.create(nc, { streamName: settings.EVENTS_STREAM, subjectPrefix: settings.EVENTS_SUBJECT_PREFIX });
}
