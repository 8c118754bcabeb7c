import { ConcurrencyError, StoreUnavailableError, StreamDeletedError, StreamTruncatedError } from '@simdeploy/event-store';
import { toErrorBody } from './error.filter';

describe('errors as HTTP answers', () => {
  it('a history deleted or truncated in the store is 410 Gone, naming the simulation', () => {
    expect(toErrorBody(new StreamDeletedError('d-1'))).toEqual({ statusCode: 410, error: 'GONE', message: expect.stringContaining('d-1') });
    expect(toErrorBody(new StreamTruncatedError('d-2', '7'))).toMatchObject({ statusCode: 410, message: expect.stringContaining('d-2') });
  });

  it('store trouble is a 503 or a 409, and anything unknown a 500 without its message', () => {
    expect(toErrorBody(new StoreUnavailableError('down'))).toMatchObject({ statusCode: 503 });
    expect(toErrorBody(new ConcurrencyError('d-3', '1', '2'))).toMatchObject({ statusCode: 409 });
    expect(toErrorBody(new Error('secret detail'))).toEqual({ statusCode: 500, error: 'INTERNAL_SERVER_ERROR', message: 'internal error' });
  });
});
