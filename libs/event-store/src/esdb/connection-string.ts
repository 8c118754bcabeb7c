import type { parseConnectionString as ParseConnectionString } from '@eventstore/db-client/dist/Client/parseConnectionString';
import { esdbClient } from './client-library';

// The client's own parser, so option names match it exactly (it ignores case, `_` and `-`);
// loaded only when EventStoreDB is configured.
const parseConnectionString: typeof ParseConnectionString = (connectionString) => {
  const parser = require('@eventstore/db-client/dist/Client/parseConnectionString') as { parseConnectionString: typeof ParseConnectionString };
  return parser.parseConnectionString(connectionString);
};

/**
 * Connection-string options the adapter cannot work with, refused before anything connects.
 * Messages name the option, never echo the string: it may hold credentials.
 *
 * - throwOnAppendFailure=false: the client then resolves a wrong expected version as
 *   `{ success: false }` instead of throwing, and its BatchAppend path reports a made-up
 *   revision with it. The adapter checks `success` anyway; refusing keeps the answer of a
 *   conflict a ConcurrencyError by construction.
 * - nodePreference other than leader: every append is read back at once and every command
 *   reads, decides and appends; a follower that lags answers "not there yet" to both.
 */
export const checkConnectionString = (connectionString: string): void => {
  const options = parseConnectionString(connectionString);
  if (options.throwOnAppendFailure === false) {
    throw new Error(
      'EventStoreDB connection string: throwOnAppendFailure=false is not supported (a refused append would look like a success); remove the option',
    );
  }
  if (options.nodePreference !== undefined && options.nodePreference !== esdbClient().LEADER) {
    throw new Error(
      `EventStoreDB connection string: nodePreference=${options.nodePreference} is not supported (appends are read back and commands read their stream at once, which a lagging node cannot answer); use nodePreference=leader or leave it out`,
    );
  }
};
