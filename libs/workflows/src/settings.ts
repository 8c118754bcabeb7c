import type { Actor, ProcessSettings } from '@simdeploy/domain';

/** The only place the lifecycle reads time; tests and the domain get it passed in. */
export abstract class Clock {
  abstract now(): Date;
}

export class SystemClock extends Clock {
  now(): Date {
    return new Date();
  }
}

export interface RetrySettings {
  /** Tries of one provider call before the step is declared failed (transient errors only). */
  maxAttempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
  /** A single provider call taking longer is abandoned and counts as a transient error. */
  callTimeoutMs: number;
}

/** What the process decider needs (deadlines, poll interval), and how provider calls are retried. */
export abstract class LifecycleSettings implements ProcessSettings {
  abstract readonly nodeReadyTimeoutMs: number;
  abstract readonly podReadyTimeoutMs: number;
  abstract readonly deletionTimeoutMs: number;
  abstract readonly pollIntervalMs: number;
  abstract readonly healthRecheckMs: number;
  /** How often running simulations are checked, all together in one batched call. */
  abstract readonly healthPollMs: number;
  abstract readonly queueRecheckMs: number;
  abstract readonly capacityRetryMs: number;
  abstract readonly retry: RetrySettings;
}

export const serviceActor = (service: string): Actor => ({ subject: `service:${service}`, roles: ['service'] });
