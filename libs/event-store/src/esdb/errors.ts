import { esdbClient } from './client-library';
import { ConcurrencyError, ExpectedRevision, StoreUnavailableError, StreamDeletedError } from '../event-store';

/** Streams of the category `SimDeployment`; the port's stream id is what follows the dash. */
export const ESDB_STREAM_PREFIX = 'SimDeployment-';

/**
 * Errors that say the store could not be reached or did not answer in time, as opposed to
 * errors about the request itself. A leader change counts: the next attempt reaches the new
 * leader. The client reports a failed cluster discovery as a plain Error with this message.
 */
const isConnectionFailure = (error: Error): boolean => {
  const { UnavailableError, DeadlineExceededError, TimeoutError, CancelledError, NotLeaderError } = esdbClient();
  return (
    error instanceof UnavailableError ||
    error instanceof DeadlineExceededError ||
    error instanceof TimeoutError ||
    error instanceof CancelledError ||
    error instanceof NotLeaderError ||
    /^Failed to discover after \d+ attempts/.test(error.message)
  );
};

export interface ErrorContext {
  streamId?: string;
  expected?: ExpectedRevision;
  /** What the adapter was doing, for the message of a StoreUnavailableError. */
  operation: string;
}

/** Turns what the client threw into the port's errors; anything else passes through. */
export const toPortError = (thrown: unknown, context: ErrorContext): unknown => {
  if (!(thrown instanceof Error)) return thrown;
  const { convertToCommandError, WrongExpectedVersionError, StreamDeletedError: EsdbStreamDeletedError, NO_STREAM: ESDB_NO_STREAM } = esdbClient();
  // Raw gRPC errors can escape the client's own conversion (errors emitted by a stream).
  const error = convertToCommandError(thrown);
  if (error instanceof WrongExpectedVersionError && context.streamId !== undefined && context.expected !== undefined) {
    const actual =
      error.actualVersion === ESDB_NO_STREAM ? null : typeof error.actualVersion === 'bigint' ? error.actualVersion.toString(10) : undefined;
    return new ConcurrencyError(context.streamId, context.expected, actual);
  }
  if (error instanceof EsdbStreamDeletedError) {
    const fromName = typeof error.streamName === 'string' ? error.streamName.replace(ESDB_STREAM_PREFIX, '') : '';
    return new StreamDeletedError(context.streamId ?? fromName, { cause: error });
  }
  if (isConnectionFailure(error)) {
    return new StoreUnavailableError(`EventStoreDB ${context.operation} failed: ${error.message}`, { cause: error });
  }
  return error;
};
