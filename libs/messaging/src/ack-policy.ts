import { ExponentialBackoff, noJitterGenerator, type IBackoff } from 'cockatiel';

/** What to tell JetStream about a command once its handler settled. */
export type AckDecision = { action: 'ack' } | { action: 'nak'; delayMs: number };

export interface RetryBackoff {
  /** Delay after the first failed delivery. Default 200 ms. */
  baseMs?: number;
  /** Ceiling for the doubling delay. Default 30 000 ms. */
  maxMs?: number;
}

/** cockatiel's capped exponential backoff, by delivery count: base * 2^(n-1), at most max. */
export function failureBackoffMs(deliveryCount: number, backoff: RetryBackoff = {}): number {
  const policy = new ExponentialBackoff({ initialDelay: backoff.baseMs ?? 200, maxDelay: backoff.maxMs ?? 30_000, generator: noJitterGenerator });
  let step: IBackoff<unknown> = policy.next();
  // Past 40 doublings every cap has long been reached.
  for (let i = 1; i < Math.min(Math.max(1, deliveryCount), 40); i++) step = step.next(undefined);
  return step.duration;
}

export class InvalidCommandOutcomeError extends Error {
  constructor(readonly outcome: unknown) {
    super(`a command handler resolved with ${JSON.stringify(outcome)}; expected nothing, { done: true } or { retryAfterMs: n >= 0 }`);
    this.name = 'InvalidCommandOutcomeError';
  }
}

/**
 * Maps what a handler resolved with to an ack decision. Anything other than
 * nothing, `{ done: true }` or a valid `{ retryAfterMs }` is a programming error,
 * thrown so that it is retried and logged like any failure rather than silently acked.
 */
export function decideAck(outcome: unknown): AckDecision {
  if (outcome === undefined || outcome === null) return { action: 'ack' };
  if (typeof outcome === 'object') {
    if ('retryAfterMs' in outcome) {
      const delayMs = (outcome as { retryAfterMs: unknown }).retryAfterMs;
      if (typeof delayMs === 'number' && Number.isFinite(delayMs) && delayMs >= 0) {
        return { action: 'nak', delayMs };
      }
    } else if ((outcome as { done?: unknown }).done === true) {
      return { action: 'ack' };
    }
  }
  throw new InvalidCommandOutcomeError(outcome);
}
