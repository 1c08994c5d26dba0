import { useEffect, useState, type FormEvent } from 'react';
import { SWRConfig } from 'swr';
import { Link, Redirect, Route, Router, Switch } from 'wouter';
import { SessionContext } from './context.ts';
import {
  allows,
  ApiError,
  signIn,
  signOut,
  storedKey,
  type Role,
  type Session,
} from './session.ts';
import { ErrorBox } from './ui.tsx';
import { Overview } from './pages/overview.tsx';
import { Platforms } from './pages/platforms.tsx';
import { PlatformDetail } from './pages/platform-detail.tsx';
import { Jobs } from './pages/jobs.tsx';
import { JobDetail } from './pages/job-detail.tsx';
import { DeadLetters } from './pages/dlq.tsx';
import { Scheduler } from './pages/scheduler.tsx';
import { Logs } from './pages/logs.tsx';
import { Webhooks } from './pages/webhooks.tsx';
import { Backfills } from './pages/backfills.tsx';
import { Collectors } from './pages/collectors.tsx';
import { Access } from './pages/access.tsx';

function SignIn({ onSession }: { onSession: (s: Session) => void }) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onSession(await signIn(key.trim()));
    } catch (err) {
      setError(
        err instanceof ApiError && err.status === 401
          ? new Error('Unknown or revoked API key')
          : err,
      );
    } finally {
      setBusy(false);
    }
  }
  return (
    <main className="sign-in">
      <h1>psc console</h1>
      <form onSubmit={(e) => void submit(e)}>
        <label>
          API key
          <input
            type="password"
            name="apiKey"
            autoComplete="off"
            required
            value={key}
            onChange={(e) => setKey(e.target.value)}
          />
        </label>
        <button type="submit" disabled={busy}>
          Sign in
        </button>
        <ErrorBox error={error} />
        <p className="hint">
          The key stays in this tab (session storage) and is sent as X-API-Key to this gateway only.
        </p>
      </form>
    </main>
  );
}

/** Pages in the header; one with a role is offered only to keys of that role or above. */
const NAV: [string, string, Role?][] = [
  ['/', 'Overview'],
  ['/platforms', 'Platforms'],
  ['/jobs', 'Jobs'],
  ['/backfills', 'Backfills'],
  ['/collectors', 'Collectors'],
  ['/logs', 'Logs'],
  ['/dlq', 'Dead letters'],
  ['/scheduler', 'Scheduler'],
  ['/webhooks', 'Webhooks'],
  ['/access', 'Access', 'admin'],
];

function Shell({ session, onSignOut }: { session: Session; onSignOut: () => void }) {
  return (
    <SessionContext.Provider value={session}>
      <header>
        <strong>psc</strong>
        <nav>
          {NAV.filter(([, , role]) => !role || allows(session.role, role)).map(([href, label]) => (
            <Link key={href} href={href} className={(active) => (active ? 'active' : '')}>
              {label}
            </Link>
          ))}
        </nav>
        <span className="who" data-role={session.role}>
          {session.role}
        </span>
        <button type="button" onClick={onSignOut}>
          Sign out
        </button>
      </header>
      <main>
        <Switch>
          <Route path="/" component={Overview} />
          <Route path="/platforms" component={Platforms} />
          <Route path="/platforms/:id">{(p) => <PlatformDetail id={p.id} />}</Route>
          <Route path="/jobs" component={Jobs} />
          <Route path="/jobs/:id">{(p) => <JobDetail id={p.id} />}</Route>
          <Route path="/dlq" component={DeadLetters} />
          <Route path="/scheduler" component={Scheduler} />
          <Route path="/logs" component={Logs} />
          <Route path="/webhooks" component={Webhooks} />
          <Route path="/backfills" component={Backfills} />
          <Route path="/collectors" component={Collectors} />
          <Route path="/access" component={Access} />
          <Route>
            <Redirect to="/" />
          </Route>
        </Switch>
      </main>
    </SessionContext.Provider>
  );
}

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  const [restoring, setRestoring] = useState(() => storedKey() !== null);

  // A reload keeps the tab's key: ask the gateway again who it is (it may have been revoked).
  useEffect(() => {
    const key = storedKey();
    if (!key) return;
    signIn(key)
      .then(setSession)
      .catch(() => signOut())
      .finally(() => setRestoring(false));
  }, []);

  function end() {
    signOut();
    setSession(null);
  }

  if (restoring) return <p className="loading">Signing in…</p>;
  return (
    <Router base="/ui">
      {/* A cache per session: a viewer signing in after an admin sees nothing of the admin's. */}
      <SWRConfig
        key={session?.keyId ?? 'signed-out'}
        value={{
          provider: () => new Map(),
          revalidateOnFocus: false,
          onError: (err: unknown) => {
            if (err instanceof ApiError && err.status === 401) end();
          },
        }}
      >
        {session ? <Shell session={session} onSignOut={end} /> : <SignIn onSession={setSession} />}
      </SWRConfig>
    </Router>
  );
}
