import {
  DeadlineExceededError,
  NO_STREAM as ESDB_NO_STREAM,
  NotLeaderError,
  StreamDeletedError,
  UnavailableError,
  WrongExpectedVersionError,
} from '@eventstore/db-client';
import { ConcurrencyError, NO_STREAM, StoreUnavailableError, StreamDeletedError as PortStreamDeletedError } from '../event-store';
import { toPortError } from './errors';

const appendContext = { operation: 'append to SimDeployment-d1', streamId: 'd1', expected: '3' };

describe('EventStoreDB errors as port errors', () => {
  it('a wrong expected version is a ConcurrencyError carrying the actual revision', () => {
    const thrown = new WrongExpectedVersionError(undefined, { streamName: 'SimDeployment-d1', expected: 3n, current: 5n });
    const error = toPortError(thrown, appendContext);
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ streamId: 'd1', expected: '3', actual: '5' });
  });

  it('a wrong expected version on a missing stream reports the actual revision as null', () => {
    const thrown = new WrongExpectedVersionError(undefined, { streamName: 'SimDeployment-d1', expected: 3n, current: ESDB_NO_STREAM });
    expect(toPortError(thrown, appendContext)).toMatchObject({ name: 'ConcurrencyError', actual: null });
  });

  it('a stream that exists when NO_STREAM was expected is a ConcurrencyError too', () => {
    const thrown = new WrongExpectedVersionError(undefined, { streamName: 'SimDeployment-d1', expected: ESDB_NO_STREAM, current: 0n });
    const error = toPortError(thrown, { ...appendContext, expected: NO_STREAM });
    expect(error).toBeInstanceOf(ConcurrencyError);
    expect(error).toMatchObject({ expected: NO_STREAM, actual: '0' });
  });

  it.each([
    ['unavailable', new UnavailableError(undefined, 'connection refused')],
    ['deadline exceeded', new DeadlineExceededError(undefined, 'deadline exceeded')],
    ['a failed cluster discovery', new Error('Failed to discover after 10 attempts.')],
  ])('%s is a StoreUnavailableError keeping the cause', (_what, thrown) => {
    const error = toPortError(thrown, { operation: 'read SimDeployment-d1' });
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).message).toContain('read SimDeployment-d1');
    expect((error as StoreUnavailableError).cause).toBe(thrown);
  });

  it('a raw gRPC UNAVAILABLE that escaped the client is a StoreUnavailableError', () => {
    const raw = Object.assign(new Error('14 UNAVAILABLE: No connection established'), {
      code: 14,
      details: 'No connection established',
    });
    const error = toPortError(raw, { operation: 'subscription to $all' });
    expect(error).toBeInstanceOf(StoreUnavailableError);
    expect((error as StoreUnavailableError).cause).toBeInstanceOf(UnavailableError);
  });

  it('a leader change is worth retrying, so it counts as unavailable', () => {
    const raw = Object.assign(new Error('not leader'), {
      code: 5,
      details: 'not leader',
      metadata: { getMap: () => ({ exception: 'not-leader', 'leader-endpoint-host': '127.0.0.1', 'leader-endpoint-port': '2113' }) },
    });
    const notLeader = new NotLeaderError(raw as unknown as ConstructorParameters<typeof NotLeaderError>[0]);
    expect(toPortError(notLeader, { operation: 'append' })).toBeInstanceOf(StoreUnavailableError);
  });

  it('a deleted stream is the port StreamDeletedError naming the deployment', () => {
    const deleted = StreamDeletedError.fromStreamName('SimDeployment-d1');
    const error = toPortError(deleted, appendContext);
    expect(error).toBeInstanceOf(PortStreamDeletedError);
    expect(error).toMatchObject({ code: 'STREAM_DELETED', streamId: 'd1', cause: deleted });
    // Without a stream in the context, the client's stream name tells which one.
    expect(toPortError(deleted, { operation: 'read $all' })).toMatchObject({ streamId: 'd1' });
  });

  it('other errors about the request itself pass through unchanged', () => {
    const bug = new TypeError('boom');
    expect(toPortError(bug, appendContext)).toBe(bug);
    expect(toPortError('not an error', appendContext)).toBe('not an error');
  });
});
