import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { createApi } from '../lib/api';
import { Link, useLocation } from '../lib/router';
import { Session, forgetToken, saveToken, savedToken, sessionOf } from '../lib/session';
import { LaunchForm } from './LaunchForm';
import { Reviews } from './Reviews';
import { SessionContext, SignedIn, useSignedIn } from './session-context';
import { SignIn } from './SignIn';
import { SimulationList } from './SimulationList';
import { SimulationPage } from './SimulationPage';

export function App() {
  const [token, setToken] = useState<string | null>(savedToken);
  const [notice, setNotice] = useState<string | null>(null);
  const session: Session | string | null = useMemo(() => (token ? sessionOf(token) : null), [token]);

  const signOut = useCallback((reason?: string) => {
    forgetToken();
    setToken(null);
    setNotice(reason ?? null);
  }, []);
  const signIn = useCallback((next: string) => {
    saveToken(next);
    setNotice(null);
    setToken(next);
  }, []);

  const signedIn: SignedIn | null = useMemo(
    () =>
      session && typeof session === 'object'
        ? { session, api: createApi(session.token, () => signOut('Your token was refused; sign in again.')), signOut }
        : null,
    [session, signOut],
  );

  if (!signedIn) return <SignIn onSignIn={signIn} notice={typeof session === 'string' ? session : notice} />;
  return (
    <SessionContext.Provider value={signedIn}>
      <Layout />
    </SessionContext.Provider>
  );
}

function Layout() {
  const { session, signOut } = useSignedIn();
  const { path } = useLocation();
  const main = useRef<HTMLElement>(null);
  const first = useRef(true);

  // After a client-side navigation, a screen reader and the keyboard start at the new page.
  useEffect(() => {
    if (first.current) {
      first.current = false;
      return;
    }
    main.current?.querySelector<HTMLElement>('h1')?.focus();
  }, [path]);

  const current = (to: string) => (path === to ? ('page' as const) : undefined);
  return (
    <>
      <a className="skip" href="#main">
        Skip to content
      </a>
      <header className="top">
        <Link to="/" className="brand">
          simdeploy
        </Link>
        <nav aria-label="Main">
          <Link to="/" aria-current={current('/')}>
            Simulations
          </Link>
          <Link to="/launch" aria-current={current('/launch')}>
            Launch
          </Link>
          {session.isAdmin && (
            <Link to="/reviews" aria-current={current('/reviews')}>
              Reviews
            </Link>
          )}
        </nav>
        <div className="who">
          <span>
            Signed in as <strong>{session.subject}</strong>
            {session.isAdmin ? ' (admin)' : ''}
          </span>
          <button type="button" className="secondary" onClick={() => signOut()}>
            Sign out
          </button>
        </div>
      </header>
      <main id="main" ref={main}>
        <Page path={path} />
      </main>
    </>
  );
}

function Page({ path }: { path: string }) {
  const { session } = useSignedIn();
  if (path === '/') return <SimulationList />;
  if (path === '/launch') return <LaunchForm />;
  if (path === '/reviews' && session.isAdmin) return <Reviews />;
  const simulation = /^\/simulation\/([a-z0-9-]+)$/.exec(path);
  if (simulation) return <SimulationPage key={simulation[1]} id={simulation[1]} />;
  return <NotFound />;
}

export function usePageTitle(title: string): void {
  useEffect(() => {
    document.title = `${title} · simdeploy`;
  }, [title]);
}

function NotFound() {
  usePageTitle('Not found');
  return (
    <section>
      <h1 tabIndex={-1}>Nothing here</h1>
      <p>
        This page does not exist. <Link to="/">Back to the simulations</Link>
      </p>
    </section>
  );
}
