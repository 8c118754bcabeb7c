/** What a worker tells the command transport once it has done what it could now. */
export type StepOutcome = { done: true } | { retryAfterMs: number };

export const DONE: StepOutcome = { done: true };
export const retryAfter = (ms: number): StepOutcome => ({ retryAfterMs: Math.max(0, Math.round(ms)) });
