import { ProviderError } from '../ports';

/** A ProviderError that says how many times the call was tried before it gave up. */
export class Ec2ProviderError extends ProviderError {
  constructor(
    code: string,
    message: string,
    transient: boolean,
    readonly attempts = 1,
    options?: { cause?: unknown },
  ) {
    super(code, message, transient, options);
    // Same name as the port's error: callers sort failures by `code`/`transient`, not class.
    this.name = 'ProviderError';
  }

  withAttempts(attempts: number): Ec2ProviderError {
    return new Ec2ProviderError(this.code, this.message, this.transient, attempts, { cause: this.cause });
  }
}

// Throttling, capacity and EC2's own faults clear up on their own; retrying is worth it.
const TRANSIENT_CODES = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  // The account's instance or vCPU limit: instances ending free it again.
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
  // The subnet ran out of addresses; instances ending free them again.
  'InsufficientFreeAddressesInSubnet',
  'InternalError',
  'InternalFailure',
  'ServiceUnavailable',
  'Unavailable',
  'RequestTimeout',
  'RequestTimeoutException',
  'TimeoutError',
  'AbortError',
]);

// Listed so a 5xx-looking proxy in front of EC2 (or an emulator) cannot turn them transient.
const PERMANENT_CODES = new Set([
  'InvalidParameterValue',
  'InvalidParameterCombination',
  'InvalidParameter',
  'MissingParameter',
  'InvalidGroup.NotFound',
  'UnauthorizedOperation',
  'AuthFailure',
  'IdempotentParameterMismatch',
  'OptInRequired',
  'Blocked',
  // The instance type is not offered in that zone: retrying there never helps.
  'Unsupported',
]);
const PERMANENT_PREFIXES = ['InvalidAMIID.', 'InvalidSubnetID.', 'InvalidInstanceID.', 'InvalidLaunchTemplate', 'InvalidKeyPair.'];

interface SdkErrorShape {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: number };
}

const asShape = (err: unknown): SdkErrorShape => (typeof err === 'object' && err !== null ? (err as SdkErrorShape) : {});

/** The EC2 error code: the SDK puts it in `name`; Node network errors carry it in `code`. */
export function ec2ErrorCode(err: unknown): string {
  if (err instanceof ProviderError) return err.code;
  const { name, code, $metadata } = asShape(err);
  if (typeof name === 'string' && name !== 'Error') return name;
  if (typeof code === 'string') return code;
  // The SDK sent it but got no answer; it wraps errors from another realm (Jest) without their code.
  if ($metadata && $metadata.httpStatusCode === undefined) return 'NetworkError';
  return 'UnknownError';
}

/**
 * Sorts what the AWS SDK threw into transient (retry later) or permanent (fail the step).
 * Without an HTTP status the request never got an answer (network, DNS, timeout): transient.
 */
export function classifyEc2Error(err: unknown): Ec2ProviderError {
  if (err instanceof Ec2ProviderError) return err;
  if (err instanceof ProviderError) return new Ec2ProviderError(err.code, err.message, err.transient, 1, { cause: err });
  const shape = asShape(err);
  const code = ec2ErrorCode(err);
  const message = typeof shape.message === 'string' && shape.message ? shape.message : String(err);
  const status = shape.$metadata?.httpStatusCode;
  const transient = TRANSIENT_CODES.has(code)
    ? true
    : PERMANENT_CODES.has(code) || PERMANENT_PREFIXES.some((prefix) => code.startsWith(prefix))
      ? false
      : status === undefined || status >= 500;
  return new Ec2ProviderError(code, message, transient, 1, { cause: err });
}

export const NOT_FOUND = 'InvalidInstanceID.NotFound';

/**
 * The instance ids an InvalidInstanceID.NotFound names ("The instance ID 'i-1' does not
 * exist", "The instance IDs 'i-1, i-2' do not exist"); empty when it names none.
 */
export function notFoundIds(err: unknown): string[] {
  if (ec2ErrorCode(err) !== NOT_FOUND) return [];
  return String(asShape(err).message ?? '').match(/i-[0-9a-zA-Z]+/g) ?? [];
}

// Refusals EC2 sends before it does anything (throttled or out of capacity), for all their 5xx status.
const REFUSED_BEFORE_ACTING = new Set([
  'RequestLimitExceeded',
  'Throttling',
  'ThrottlingException',
  'InsufficientInstanceCapacity',
  'InsufficientCapacity',
  'InsufficientHostCapacity',
  'InsufficientReservedInstanceCapacity',
  'InstanceLimitExceeded',
  'VcpuLimitExceeded',
  'MaxSpotInstanceCountExceeded',
]);

/**
 * Whether EC2 answered the request with a refusal, so nothing was done. A lost answer
 * (network, timeout, abort) or a server fault leaves it open whether the request was
 * carried out: a launch must then be repeated with the same client token, never elsewhere.
 */
export function refusedWithoutEffect(err: unknown): boolean {
  const code = ec2ErrorCode(err);
  if (REFUSED_BEFORE_ACTING.has(code)) return true;
  const original = err instanceof ProviderError && err.cause !== undefined ? err.cause : err;
  const status = asShape(original).$metadata?.httpStatusCode;
  return status !== undefined && status >= 400 && status < 500;
}
