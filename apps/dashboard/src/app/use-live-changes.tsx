import { useEffect, useRef, useState } from 'react';
import { StreamState, openEventStream } from '../lib/event-stream';
import type { SimulationChange } from '../lib/types';
import { useSignedIn } from './session-context';

/**
 * Follows GET /simulations/stream while the component is shown. `onReady(false)` means the
 * stream started afresh: what the page shows must be read again (changes before it were not sent).
 */
export function useLiveChanges(
  query: string,
  handlers: { onChange(change: SimulationChange): void; onReady(resumed: boolean): void },
): StreamState {
  const { session, signOut } = useSignedIn();
  const [state, setState] = useState<StreamState>('connecting');
  const latest = useRef(handlers);
  useEffect(() => {
    latest.current = handlers;
  });
  useEffect(() => {
    const close = openEventStream(`/simulations/stream${query}`, session.token, {
      change: (change) => latest.current.onChange(change),
      ready: (resumed) => latest.current.onReady(resumed),
      state: setState,
      unauthorized: () => signOut('Your token was refused; sign in again.'),
    });
    return close;
  }, [query, session.token, signOut]);
  return state;
}

export function LiveIndicator({ state }: { state: StreamState }) {
  const text = state === 'live' ? 'Live' : state === 'connecting' ? 'Connecting…' : 'Reconnecting…';
  return (
    <span className={`live live-${state}`} role="status" aria-live="polite">
      <span className="live-dot" aria-hidden="true" />
      {text}
    </span>
  );
}
