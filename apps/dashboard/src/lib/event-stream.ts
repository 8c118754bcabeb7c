import { SseParser } from './sse-parser';
import type { SimulationChange } from './types';

export type StreamState = 'connecting' | 'live' | 'reconnecting';

export interface StreamHandlers {
  change(change: SimulationChange): void;
  /** The stream (re)started. `resumed` false: changes before it were not sent, reload what is shown. */
  ready(resumed: boolean): void;
  state(state: StreamState): void;
  unauthorized(): void;
}

/**
 * GET /simulations/stream over fetch (an EventSource cannot send the bearer token), with what
 * EventSource does: reconnect after the server's `retry`, resending the last id as
 * Last-Event-ID, so the gateway resumes right after the last message read. Returns close().
 */
export function openEventStream(path: string, token: string, handlers: StreamHandlers): () => void {
  const abort = new AbortController();
  let lastEventId: string | null = null;
  let retryMs = 2_000;
  /** Failed tries since the stream was last live: the wait before the next one grows with it. */
  let attempt = 0;
  let everConnected = false;

  const connectOnce = async (): Promise<void> => {
    handlers.state(everConnected ? 'reconnecting' : 'connecting');
    attempt += 1;
    const response = await fetch(path, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'text/event-stream',
        ...(lastEventId ? { 'last-event-id': lastEventId } : {}),
      },
      cache: 'no-store',
      signal: abort.signal,
    });
    if (response.status === 401) {
      handlers.unauthorized();
      abort.abort();
      return;
    }
    if (!response.ok || !response.body) throw new Error(`the stream answered ${response.status}`);
    const parser = new SseParser();
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) return;
      for (const block of parser.push(value)) {
        if (block.retry !== null) retryMs = block.retry;
        if (block.id !== null) lastEventId = block.id || null;
        if (block.data === null) continue;
        if (block.event === 'ready') {
          attempt = 0;
          everConnected = true;
          handlers.state('live');
          handlers.ready((JSON.parse(block.data) as { resumed: boolean }).resumed);
        } else if (block.event === 'change') {
          handlers.change(JSON.parse(block.data) as SimulationChange);
        }
      }
    }
  };

  void (async () => {
    while (!abort.signal.aborted) {
      try {
        await connectOnce();
      } catch {
        // A cut connection or a gateway restarting: try again below.
      }
      if (abort.signal.aborted) return;
      handlers.state('reconnecting');
      // Spread the reconnects of many dashboards after a gateway restart.
      const wait = Math.min(30_000, retryMs * Math.max(1, attempt)) * (0.75 + Math.random() / 2);
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  })();

  return () => abort.abort();
}
