import type { StreamingRead } from '@eventstore/db-client';

/**
 * Reads a client stream until it ends or `take` returns false. The client runs reads with an
 * infinite deadline, so a read left behind stays open until keepalive fails it (and the
 * client's dispose() waits for it): leaving early, because `take` said so, because it threw,
 * or because `signal` aborted, cancels the gRPC call, which leaving the iteration alone does
 * not. An abort rejects with the signal's reason.
 */
export const drain = async <E>(read: StreamingRead<E>, take: (item: E) => boolean, signal?: AbortSignal): Promise<void> => {
  let ended = false;
  const cancel = (): void => void read.cancel().catch(() => undefined);
  signal?.addEventListener('abort', cancel, { once: true });
  try {
    signal?.throwIfAborted();
    let stopped = false;
    for await (const item of read) {
      if (!take(item)) {
        stopped = true;
        break;
      }
    }
    ended = !stopped;
  } finally {
    signal?.removeEventListener('abort', cancel);
    if (!ended || signal?.aborted) await read.cancel().catch(() => undefined);
  }
  // A cancelled read ends quietly; without this an aborted read would look complete.
  signal?.throwIfAborted();
};
