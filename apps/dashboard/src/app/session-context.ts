import { createContext, useContext } from 'react';
import type { Api } from '../lib/api';
import type { Session } from '../lib/session';

export interface SignedIn {
  session: Session;
  api: Api;
  signOut(reason?: string): void;
}

export const SessionContext = createContext<SignedIn | null>(null);

export function useSignedIn(): SignedIn {
  const signedIn = useContext(SessionContext);
  if (!signedIn) throw new Error('useSignedIn outside a signed-in page');
  return signedIn;
}
