import { createContext, useContext } from 'react';
import type { Session } from './session.ts';

export const SessionContext = createContext<Session | null>(null);

/** The signed-in session; every page below the sign-in renders inside one. */
export function useSession(): Session {
  const session = useContext(SessionContext);
  if (!session) throw new Error('useSession outside a signed-in page');
  return session;
}

/** Signs the console out (the key forgotten, back to the sign-in form). */
export const SignOutContext = createContext<() => void>(() => undefined);

/** How often live views poll the API (the issue asks for ≤ 2 s). */
export const LIVE_MS = 2000;
