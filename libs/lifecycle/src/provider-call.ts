import { ProviderError } from '@simdeploy/cloud';
import type { RetrySettings } from './settings';

/** A provider step that ran out of tries, or failed for good at once. */
export class StepFailedError extends Error {
  constructor(
    readonly step: string,
    readonly failure: ProviderError,
    readonly attempts: number,
  ) {
    super(`${step} failed after ${attempts} attempt(s): ${failure.code}: ${failure.message}`);
    this.name = 'StepFailedError';
  }
}

const asProviderError = (error: unknown): ProviderError => {
  if (error instanceof ProviderError) return error;
  // Anything else a provider throws (a bug, a local I/O error) is retried like a transient
  // error, and recorded with its own message if it keeps happening.
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError('ProviderInternalError', message, true, { cause: error });
};

/** A provider call that hangs is abandoned (and aborted) after `timeoutMs`, as a transient error. */
async function withTimeout<T>(step: string, call: (signal: AbortSignal) => Promise<T>, timeoutMs: number): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new ProviderError('CallTimeout', `${step} did not answer within ${timeoutMs} ms`, true));
    }, timeoutMs);
  });
  try {
    return await Promise.race([call(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

export type Sleep = (ms: number) => Promise<void>;
export const realSleep: Sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * Calls a provider, retrying transient errors with capped exponential backoff and full
 * jitter; a permanent error fails at once. Throws StepFailedError with the attempt count.
 */
export async function callProvider<T>(
  step: string,
  call: (signal: AbortSignal) => Promise<T>,
  retry: RetrySettings,
  sleep: Sleep = realSleep,
  random: () => number = Math.random,
): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await withTimeout(step, call, retry.callTimeoutMs);
    } catch (error) {
      const failure = asProviderError(error);
      if (!failure.transient || attempt >= retry.maxAttempts) throw new StepFailedError(step, failure, attempt);
      const cap = Math.min(retry.maxDelayMs, retry.baseDelayMs * 2 ** (attempt - 1));
      await sleep(Math.floor(random() * cap));
    }
  }
}
