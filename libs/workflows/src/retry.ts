import { ProviderError } from '@simdeploy/cloud';
import type { CallFailure } from '@simdeploy/domain';
import { providerMetrics } from '@simdeploy/telemetry';
import { ExponentialBackoff, TaskCancelledError, TimeoutStrategy, fullJitterGenerator, handleWhen, retry, timeout, wrap } from 'cockatiel';
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

  toCallFailure(): CallFailure {
    return { error: this.failure.toFailure(), attempts: this.attempts };
  }
}

/**
 * What a provider threw, as a ProviderError: a call abandoned after its timeout is a
 * transient CallTimeout; anything else a provider throws (a bug, a local I/O error) is
 * retried like a transient error, and recorded with its own message if it keeps happening.
 */
function asProviderError(error: unknown, step: string, timeoutMs: number): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof TaskCancelledError) return new ProviderError('CallTimeout', `${step} did not answer within ${timeoutMs} ms`, true);
  const message = error instanceof Error ? error.message : String(error);
  return new ProviderError('ProviderInternalError', message, true, { cause: error });
}

/**
 * The one retry wrapper for provider calls (cockatiel): each try is abandoned and aborted
 * after `callTimeoutMs`; transient errors are retried with capped exponential backoff and
 * full jitter, `maxAttempts` tries in all; a permanent error fails at once. Throws
 * StepFailedError with the attempt count.
 */
export async function callProvider<T>(
  step: string,
  call: (signal: AbortSignal) => Promise<T>,
  settings: RetrySettings,
  provider = 'unknown',
): Promise<T> {
  let attempts = 0;
  const labels = { provider, operation: step };
  const transient = (error: unknown) => asProviderError(error, step, settings.callTimeoutMs).transient;
  const policy = wrap(
    retry(handleWhen(transient), {
      maxAttempts: Math.max(0, settings.maxAttempts - 1),
      backoff: new ExponentialBackoff({ initialDelay: settings.baseDelayMs, maxDelay: settings.maxDelayMs, generator: fullJitterGenerator }),
    }),
    timeout(settings.callTimeoutMs, TimeoutStrategy.Aggressive),
  );
  try {
    return await policy.execute(async ({ signal }) => {
      attempts += 1;
      providerMetrics.calls.inc(labels);
      const stopTimer = providerMetrics.duration.startTimer(labels);
      try {
        return await call(signal);
      } catch (error) {
        const failure = asProviderError(error, step, settings.callTimeoutMs);
        providerMetrics.errors.inc({ ...labels, code: failure.code, transient: String(failure.transient) });
        throw error;
      } finally {
        stopTimer();
      }
    });
  } catch (error) {
    throw new StepFailedError(step, asProviderError(error, step, settings.callTimeoutMs), attempts);
  }
}
