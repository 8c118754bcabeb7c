import { classifyEc2Error, ec2ErrorCode, notFoundIds, refusedWithoutEffect } from '../../src/ec2';
import { ProviderError } from '../../src/ports';
import { ec2Error, networkError } from './sdk-errors';

describe('classifyEc2Error', () => {
  it.each([
    ['RequestLimitExceeded', 503],
    ['Throttling', 400],
    ['ThrottlingException', 400],
    ['InsufficientInstanceCapacity', 500],
    ['InsufficientCapacity', 500],
    // An account's instance or vCPU limit: instances ending free it, so the launch waits and retries.
    ['InstanceLimitExceeded', 400],
    ['VcpuLimitExceeded', 400],
    ['MaxSpotInstanceCountExceeded', 400],
    ['InsufficientFreeAddressesInSubnet', 400],
    ['InternalError', 500],
    ['ServiceUnavailable', 503],
    ['Unavailable', 503],
    ['SomethingNewOnTheServerSide', 502],
  ])('%s (HTTP %i) is transient', (code, status) => {
    const error = classifyEc2Error(ec2Error(code, status));
    expect(error).toBeInstanceOf(ProviderError);
    expect(error).toMatchObject({ code, transient: true, attempts: 1 });
  });

  it.each([
    ['InvalidParameterValue', 400],
    ['InvalidParameterCombination', 400],
    ['InvalidAMIID.NotFound', 400],
    ['InvalidAMIID.Malformed', 400],
    ['InvalidSubnetID.NotFound', 400],
    ['InvalidGroup.NotFound', 400],
    ['UnauthorizedOperation', 403],
    ['AuthFailure', 401],
    ['IdempotentParameterMismatch', 400],
    ['Unsupported', 400],
    ['SomeOtherClientError', 400],
    // A proxy or emulator answering 5xx must not make a refused request look retryable.
    ['InvalidParameterValue', 500],
  ])('%s (HTTP %i) is permanent', (code, status) => {
    expect(classifyEc2Error(ec2Error(code, status))).toMatchObject({ code, transient: false });
  });

  it('keeps the SDK message and the original error as cause', () => {
    const original = ec2Error('InvalidParameterValue', 400, "Value () for parameter groupId is invalid. The value cannot be empty");
    const error = classifyEc2Error(original);
    expect(error.message).toBe("Value () for parameter groupId is invalid. The value cannot be empty");
    expect(error.cause).toBe(original);
    expect(error.toFailure()).toEqual({ code: 'InvalidParameterValue', message: error.message, transient: false });
  });

  it('treats errors without an HTTP status (network, timeouts) as transient', () => {
    expect(classifyEc2Error(networkError('ECONNREFUSED'))).toMatchObject({ code: 'ECONNREFUSED', transient: true });
    const timeout = Object.assign(new Error('Connection timed out after 1000 ms'), { name: 'TimeoutError' });
    expect(classifyEc2Error(timeout)).toMatchObject({ code: 'TimeoutError', transient: true });
    const wrapped = Object.assign(new Error('AWS SDK error wrapper for Error: connect ECONNREFUSED'), { $metadata: { attempts: 1 } });
    expect(classifyEc2Error(wrapped)).toMatchObject({ code: 'NetworkError', transient: true });
    expect(classifyEc2Error('weird')).toMatchObject({ code: 'UnknownError', transient: true });
  });

  it('passes a ProviderError through with its own classification', () => {
    const error = classifyEc2Error(new ProviderError('NodeReadyTimeout', 'late', false));
    expect(error).toMatchObject({ code: 'NodeReadyTimeout', transient: false });
    expect(ec2ErrorCode(error)).toBe('NodeReadyTimeout');
  });
});

describe('what an EC2 error says about the request', () => {
  it('names the unknown ids of an InvalidInstanceID.NotFound, raw or classified', () => {
    const plural = ec2Error('InvalidInstanceID.NotFound', 400, "The instance IDs 'i-0abc, i-0def' do not exist");
    expect(notFoundIds(plural)).toEqual(['i-0abc', 'i-0def']);
    expect(notFoundIds(classifyEc2Error(ec2Error('InvalidInstanceID.NotFound', 400, "The instance ID 'i-0abc' does not exist")))).toEqual(['i-0abc']);
    expect(notFoundIds(ec2Error('InvalidAMIID.NotFound', 400, "The image id '[ami-0abc]' does not exist"))).toEqual([]);
  });

  it('tells a refusal (nothing done) from a lost answer or a server fault (maybe done)', () => {
    expect(refusedWithoutEffect(ec2Error('InsufficientInstanceCapacity', 500))).toBe(true);
    expect(refusedWithoutEffect(ec2Error('RequestLimitExceeded', 503))).toBe(true);
    expect(refusedWithoutEffect(ec2Error('VcpuLimitExceeded', 400))).toBe(true);
    expect(refusedWithoutEffect(classifyEc2Error(ec2Error('InvalidParameterValue', 400)))).toBe(true);
    expect(refusedWithoutEffect(ec2Error('InternalError', 500))).toBe(false);
    expect(refusedWithoutEffect(networkError('ECONNRESET'))).toBe(false);
    expect(refusedWithoutEffect(Object.assign(new Error('socket timed out'), { name: 'TimeoutError' }))).toBe(false);
  });
});
