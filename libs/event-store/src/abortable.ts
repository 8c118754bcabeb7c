/**
 * Waiting on something "until closed" without leaking. Racing against a promise that stays
 * pending for a subscription's whole life adds a reaction to it on every race, and each
 * reaction keeps that race's result (an event) reachable until the promise settles. An abort
 * listener is removed as soon as the race is decided, so nothing accumulates.
 */
export const ABORTED = Symbol('aborted');

/** `promise`'s outcome, or ABORTED if `signal` aborts first (a later rejection is then ignored). */
export const raceAbort = <T>(promise: Promise<T>, signal: AbortSignal): Promise<T | typeof ABORTED> => {
  if (signal.aborted) {
    promise.catch(() => undefined);
    return Promise.resolve(ABORTED);
  }
  return new Promise<T | typeof ABORTED>((resolve, reject) => {
    const onAbort = (): void => resolve(ABORTED);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
};

/** Waits `ms`; true when the time passed, false when `signal` aborted first (the timer is cleared). */
export const sleep = async (ms: number, signal: AbortSignal): Promise<boolean> => {
  let timer: NodeJS.Timeout | undefined;
  const elapsed = new Promise<true>((resolve) => (timer = setTimeout(() => resolve(true), ms)));
  try {
    return (await raceAbort(elapsed, signal)) !== ABORTED;
  } finally {
    clearTimeout(timer);
  }
};
