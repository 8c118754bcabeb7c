import type * as EsdbClient from '@eventstore/db-client';

let loaded: typeof EsdbClient | undefined;

/**
 * EventStoreDB's client (gRPC, protobuf), loaded when the adapter is first used rather than when
 * this package is imported: about 20 MB and 0.1 s that a service on JetStream never needs.
 */
export const esdbClient = (): typeof EsdbClient => (loaded ??= require('@eventstore/db-client') as typeof EsdbClient);
