import { useCallback, useEffect, useRef, useState, type FormEvent, type ReactNode } from 'react';
import { SWRConfig, useSWRConfig, type SWRConfiguration } from 'swr';
import { Link, Redirect, Route, Router, Switch, useLocation } from 'wouter';
import { LIVE_MS, SessionContext, SignOutContext } from './context.ts';
import {
  allows,
  ApiError,
  signIn,
  signOut,
  storedKey,
  type Role,
  type Session,
} from './session.ts';
import { ErrorBox, PageBoundary } from './ui.tsx';
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

/** The sign-in form's error in words: a refused key is the likely mistake. */
const signInError = (err: unknown): unknown =>
  err instanceof ApiError && err.status === 401 ? new Error('Unknown or revoked API key') : err;

/** A form that takes an API key and signs in with it: what was typed, its error, whether busy. */
function useKeyEntry(onRefused: () => void, signedIn: (s: Session) => void) {
  const [key, setKey] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      signedIn(await signIn(key.trim(), onRefused));
    } catch (err) {
      setError(signInError(err));
    } finally {
      setBusy(false);
    }
  }
  return { key, setKey, error, busy, submit };
}

function SignIn(props: { onSession: (s: Session) => void; onRefused: () => void; note?: string }) {
  const { key, setKey, error, busy, submit } = useKeyEntry(props.onRefused, props.onSession);
  return (
    <main className="sign-in">
      <h1>psc console</h1>
      {props.note ? (
        <p className="error" role="alert">
          {props.note}
        </p>
      ) : null}
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

/**
 * The gateway refused the session's key (revoked, or expired) while a page was open. The page
 * stays as it was, forms and what was typed in them included, under this prompt: signing in again
 * with a key of the same role picks up where the operator was; another role starts afresh.
 */
function SignInAgain(props: {
  role: Role;
  onSession: (s: Session) => void;
  onRefused: () => void;
  onSignOut: () => void;
}) {
  const { mutate } = useSWRConfig();
  const { key, setKey, error, busy, submit } = useKeyEntry(props.onRefused, (next) => {
    props.onSession(next);
    // Everything shown was read with the refused key, or failed with it: read it again.
    if (next.role === props.role) void mutate(() => true);
  });
  return (
    <section className="card wide secret signed-out" role="alertdialog" aria-label="Signed out">
      <h2>The gateway no longer accepts this console&apos;s key</h2>
      <p>
        It answered 401: the key was revoked or has expired, so nothing more can be read or changed
        with it. Sign in again to go on; this page and what you typed in it stay as they are (with a
        key of another role, the console starts afresh).
      </p>
      <form className="inline-form" onSubmit={(e) => void submit(e)}>
        <input
          type="password"
          aria-label="API key"
          autoComplete="off"
          required
          size={40}
          value={key}
          onChange={(e) => setKey(e.target.value)}
        />
        <button type="submit" disabled={busy}>
          Sign in again
        </button>
        <button type="button" onClick={props.onSignOut}>
          Sign out
        </button>
      </form>
      <ErrorBox error={error} />
    </section>
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

function Shell({
  session,
  onSignOut,
  refusedPrompt,
}: {
  session: Session;
  onSignOut: () => void;
  refusedPrompt: ReactNode;
}) {
  const [location] = useLocation();
  return (
    <SessionContext.Provider value={session}>
      <SignOutContext.Provider value={onSignOut}>
        <header>
          <strong>psc</strong>
          <nav>
            {NAV.filter(([, , role]) => !role || allows(session.role, role)).map(
              ([href, label]) => (
                <Link key={href} href={href} className={(active) => (active ? 'active' : '')}>
                  {label}
                </Link>
              ),
            )}
          </nav>
          <span className="who" data-role={session.role}>
            {session.role}
          </span>
          <button type="button" onClick={onSignOut}>
            Sign out
          </button>
        </header>
        <main>
          {refusedPrompt}
          <PageBoundary key={location}>
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
          </PageBoundary>
        </main>
      </SignOutContext.Provider>
    </SessionContext.Provider>
  );
}

/** The longest a view waits between two tries after its request failed. */
const RETRY_MAX_MS = 10_000;

/**
 * When a failed read is tried again. SWR stops a view's polling while it is in error and backs off
 * from 5 s to 21 min: after a few minutes without the gateway, a live page stayed stale for many
 * more once it was back. Here a view tries again within 10 s; a 429 after the time the gateway
 * asks; a refusal (other 4xx) not at all, as asking again gets the same answer.
 */
const retryAfterError: NonNullable<SWRConfiguration['onErrorRetry']> = (
  err: unknown,
  _key,
  _config,
  revalidate,
  { retryCount },
) => {
  let wait = Math.min(LIVE_MS * 2 ** Math.max(retryCount - 1, 0), RETRY_MAX_MS);
  if (err instanceof ApiError && err.status === 429) {
    const details = err.details as { retryAfterSeconds?: unknown } | undefined;
    const seconds = typeof details?.retryAfterSeconds === 'number' ? details.retryAfterSeconds : 5;
    wait = Math.max(wait, seconds * 1000);
  } else if (err instanceof ApiError && err.status < 500 && err.status !== 408) {
    return;
  }
  setTimeout(() => void revalidate({ retryCount }), wait);
};

export function App() {
  const [session, setSession] = useState<Session | null>(null);
  /** The gateway refused the session's key with a 401 since it signed in. */
  const [refused, setRefused] = useState(false);
  const refusedRef = useRef(false);
  const [restoring, setRestoring] = useState(() => storedKey() !== null);
  /** Why the tab's key could not be checked on a reload (no answer, a 5xx): kept, retried. */
  const [restoreError, setRestoreError] = useState<unknown>(null);
  const [note, setNote] = useState<string | undefined>();

  const onRefused = useCallback(() => {
    refusedRef.current = true;
    setRefused(true);
  }, []);

  // A reload keeps the tab's key: ask the gateway again who it is (it may have been revoked). Only
  // a 401 drops the key; a gateway that does not answer for a moment must not sign anyone out.
  const restore = useCallback(() => {
    const key = storedKey();
    if (!key) return;
    setRestoring(true);
    setRestoreError(null);
    signIn(key, onRefused)
      .then(setSession)
      .catch((err: unknown) => {
        if (err instanceof ApiError && err.status === 401) {
          signOut();
          setNote('This tab’s key was refused (revoked or expired): sign in again.');
        } else {
          setRestoreError(err);
        }
      })
      .finally(() => setRestoring(false));
  }, [onRefused]);
  useEffect(restore, [restore]);

  function begin(next: Session) {
    refusedRef.current = false;
    setRefused(false);
    setNote(undefined);
    setSession(next);
  }

  function end() {
    signOut();
    refusedRef.current = false;
    setRefused(false);
    setRestoreError(null);
    setSession(null);
  }

  if (restoring) return <p className="loading">Signing in…</p>;
  if (restoreError) {
    return (
      <main className="sign-in">
        <h1>psc console</h1>
        <ErrorBox error={restoreError} />
        <p className="hint">This tab&apos;s key is kept: retry once the gateway answers.</p>
        <div className="actions">
          <button type="button" onClick={restore}>
            Retry
          </button>
          <button type="button" onClick={end}>
            Sign in with another key
          </button>
        </div>
      </main>
    );
  }
  return (
    <Router base="/ui">
      {/*
        A cache per role: a viewer signing in after an admin sees nothing of the admin's, and a
        signed-out console keeps none. While the key is refused, nothing polls.
      */}
      <SWRConfig
        key={session?.role ?? 'signed-out'}
        value={{
          provider: () => new Map(),
          revalidateOnFocus: false,
          isPaused: () => refusedRef.current,
          onErrorRetry: retryAfterError,
        }}
      >
        {session ? (
          <Shell
            session={session}
            onSignOut={end}
            refusedPrompt={
              refused ? (
                <SignInAgain
                  role={session.role}
                  onSession={begin}
                  onRefused={onRefused}
                  onSignOut={end}
                />
              ) : null
            }
          />
        ) : (
          <SignIn onSession={begin} onRefused={onRefused} {...(note ? { note } : {})} />
        )}
      </SWRConfig>
    </Router>
  );
}
