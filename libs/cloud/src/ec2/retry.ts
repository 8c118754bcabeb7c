import { classifyEc2Error, type Ec2ProviderError } from './ec2-errors';

export interface RetryPolicy {
  /** Tries per call, the first included. */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { maxAttempts: 5, baseDelayMs: 200, maxDelayMs: 5_000 };

export type Sleep = (ms: number, signal?: AbortSignal) => Promise<void>;

/** What a signal rejects with: its reason, or a DOMException named AbortError as fetch does. */
export function abortReason(signal: AbortSignal): unknown {
  return signal.reason ?? new DOMException('The operation was aborted', 'AbortError');
}

export const sleepUnlessAborted: Sleep = (ms, signal) =>
  new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal as AbortSignal));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Capped exponential backoff with full jitter: a random pause in [0, min(max, base * 2^(n-1))). */
export const backoffDelay = (policy: RetryPolicy, failedAttempts: number, random: () => number): number =>
  Math.floor(random() * Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** (failedAttempts - 1)));

export interface RetryDeps {
  policy: RetryPolicy;
  sleep: Sleep;
  random: () => number;
}

/**
 * Runs `call` until it succeeds, fails permanently or runs out of attempts. An abort is
 * passed through untouched so the caller can tell "stopped" from "failed".
 */
export async function retryTransient<T>(deps: RetryDeps, call: () => Promise<T>, signal?: AbortSignal): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    if (signal?.aborted) throw abortReason(signal);
    let failure: Ec2ProviderError;
    try {
      return await call();
    } catch (err) {
      if (signal?.aborted) throw abortReason(signal);
      failure = classifyEc2Error(err);
    }
    if (!failure.transient || attempt >= deps.policy.maxAttempts) throw failure.withAttempts(attempt);
    await deps.sleep(backoffDelay(deps.policy, attempt, deps.random), signal);
  }
}
