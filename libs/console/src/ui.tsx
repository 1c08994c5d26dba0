import {
  Component,
  useCallback,
  useEffect,
  useRef,
  useState,
  type FormEvent,
  type KeyboardEvent,
  type ReactNode,
} from 'react';
import { Link } from 'wouter';
import { allows, ApiError, isUnreachable, type Role } from './session.ts';
import { LIVE_MS, useSession } from './context.ts';
import { fieldsText } from '@psc/api-client';

/** An API error's details as lines: a validation's `path: message`s, or an object's fields. */
function detailLines(details: unknown): string[] {
  if (details === undefined || details === null) return [];
  if (Array.isArray(details)) {
    return details.map((d: unknown) => {
      const issue = d as { path?: unknown; message?: unknown };
      if (typeof issue.message !== 'string') return JSON.stringify(d);
      return typeof issue.path === 'string' && issue.path
        ? `${issue.path}: ${issue.message}`
        : issue.message;
    });
  }
  if (typeof details === 'object') return [fieldsText(details as Record<string, unknown>)];
  return [typeof details === 'string' ? details : JSON.stringify(details)];
}

/**
 * What went wrong, in words an operator can act on: fetch's bare "Failed to fetch" says nothing,
 * and a 5xx or 429 message alone does not say whether trying again helps.
 */
function errorText(error: unknown): string {
  if (isUnreachable(error)) {
    return 'The gateway did not answer: it may be restarting or unreachable from here. What the page shows may be out of date; it tries again by itself.';
  }
  if (error instanceof ApiError) {
    if (error.status === 429) return `Too many requests: ${error.message}.`;
    if (error.status >= 500) {
      return `The gateway could not do this (HTTP ${error.status}): ${error.message}. Try again in a moment.`;
    }
    if (error.status === 403) return `Not allowed for this key: ${error.message}.`;
  }
  return error instanceof Error && error.message ? error.message : 'Something went wrong';
}

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const message = errorText(error);
  const details = error instanceof ApiError ? detailLines(error.details) : [];
  if (!details.length) {
    return (
      <p className="error" role="alert">
        {message}
      </p>
    );
  }
  return (
    <div className="error" role="alert">
      <p>{message}</p>
      <ul className="details">
        {details.map((line, i) => (
          <li key={i}>{line}</li>
        ))}
      </ul>
    </div>
  );
}

export function Status({ value }: { value: string | null | undefined }) {
  const text = value ?? '—';
  return <span className={`status status-${text}`}>{text}</span>;
}

/** Renders `children` only for keys whose role is at least `role`. */
export function Can({ role, children }: { role: Role; children: ReactNode }) {
  const session = useSession();
  return allows(session.role, role) ? <>{children}</> : null;
}

/**
 * A button that runs `action` and shows its outcome; with `reason`, it first asks for one (the
 * API records why an operator paused or stopped something; `'optional'` lets it be left empty);
 * with `confirm`, it first asks that question (for what cannot be undone), and with both, the
 * question comes with the reason's box, dismissed by "Keep" (a cancel's question would otherwise
 * offer two buttons that say Cancel).
 */
export function ActionButton(props: {
  label: string;
  action: (reason: string) => Promise<unknown>;
  reason?: boolean | 'optional';
  confirm?: string;
  danger?: boolean;
  disabled?: boolean;
  onDone?: () => void;
}) {
  const [asking, setAsking] = useState(false);
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function run(event?: FormEvent) {
    event?.preventDefault();
    setBusy(true);
    setError(null);
    try {
      await props.action(reason.trim());
      setAsking(false);
      setReason('');
      props.onDone?.();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  const className = props.danger ? 'danger' : undefined;
  // The button pressed is gone once the question shows: focus moves into it (the reason's box,
  // or the way out of a confirmation), and Escape takes the question back, so the main actions
  // work from the keyboard without hunting for where focus went.
  const dismiss = (event: KeyboardEvent) => {
    if (event.key === 'Escape' && !busy) setAsking(false);
  };
  if (props.reason && asking) {
    // The question, if any, with the reason's box; a cancel's question is dismissed with Keep.
    return (
      <form
        className="inline-form"
        {...(props.confirm ? { 'aria-label': props.confirm } : {})}
        onSubmit={(e) => void run(e)}
        onKeyDown={dismiss}
      >
        {props.confirm ? <span>{props.confirm}</span> : null}
        <input
          autoFocus
          aria-label={`Reason to ${props.label.toLowerCase()}`}
          placeholder={props.reason === 'optional' ? 'Reason (optional)' : 'Reason'}
          required={props.reason !== 'optional'}
          maxLength={500}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <button type="submit" className={className} disabled={busy}>
          {props.label}
        </button>
        <button type="button" onClick={() => setAsking(false)}>
          {props.confirm ? 'Keep' : 'Cancel'}
        </button>
        <ErrorBox error={error} />
      </form>
    );
  }
  if (props.confirm && asking) {
    return (
      <span className="inline-form" role="group" aria-label={props.confirm} onKeyDown={dismiss}>
        <span>{props.confirm}</span>
        <button type="button" className={className} disabled={busy} onClick={() => void run()}>
          {props.label}
        </button>
        <button type="button" autoFocus onClick={() => setAsking(false)}>
          Cancel
        </button>
        <ErrorBox error={error} />
      </span>
    );
  }
  return (
    <span className="action">
      <button
        type="button"
        className={className}
        disabled={busy || props.disabled}
        onClick={() => (props.reason || props.confirm ? setAsking(true) : void run())}
      >
        {props.label}
      </button>
      <ErrorBox error={error} />
    </span>
  );
}

/**
 * A page's own record could not be read. Not found (a job purged, a platform retired, a link from
 * elsewhere) offers the list it belongs to; anything else is said with what the page still shows.
 */
export function PageError(props: {
  error: unknown;
  what: string;
  list: [href: string, label: string];
}) {
  const [href, label] = props.list;
  const notFound = props.error instanceof ApiError && props.error.status === 404;
  return (
    <section aria-label="Not shown" className="card wide">
      {notFound ? (
        <p role="alert" className="error">
          No such {props.what}: the gateway answered “{errorText(props.error)}”. It may have been
          deleted, or the link is wrong.
        </p>
      ) : (
        <ErrorBox error={props.error} />
      )}
      <p>
        <Link href={href}>{label}</Link>
      </p>
    </section>
  );
}

/** Text that may run to kilobytes (an error, a reason): wrapped anywhere and scrolled past a few lines. */
export function LongText({ text, className }: { text: string; className?: string }) {
  return <div className={`long${className ? ` ${className}` : ''}`}>{text}</div>;
}

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}

/**
 * A page that throws while rendering (an answer of a shape this console does not expect, say
 * from a gateway of another version) shows why, under the header, instead of unmounting the whole
 * console into a blank page. Its parent keys it by location: moving on tries again.
 */
export class PageBoundary extends Component<{ children: ReactNode }, { error: Error | null }> {
  override state: { error: Error | null } = { error: null };

  static getDerivedStateFromError(error: unknown): { error: Error } {
    return { error: error instanceof Error ? error : new Error(String(error)) };
  }

  override render() {
    const { error } = this.state;
    if (!error) return this.props.children;
    return (
      <section aria-label="Page failed" className="card wide">
        <h1>This page could not be shown</h1>
        <p role="alert" className="error">
          The console failed to draw it from the gateway&apos;s answer: {error.message}
        </p>
        <p>
          Reload to try again, or go to the <Link href="/">Overview</Link>. If it persists, the
          gateway and this console may be of different versions.
        </p>
      </section>
    );
  }
}

/**
 * When a live page's reads last all succeeded: `mark(name)` is a view's `onSuccess`, and
 * `at` the oldest of the views' latest successes (undefined until each has answered once).
 */
export function useFreshness(names: readonly string[]) {
  const times = useRef(new Map<string, number>());
  const [, setTick] = useState(0);
  const mark = useCallback(
    (name: string) => () => {
      times.current.set(name, Date.now());
      setTick((n) => n + 1);
    },
    [],
  );
  const all = names.map((n) => times.current.get(n));
  const at = all.every((t) => t !== undefined) ? Math.min(...all) : undefined;
  return { mark, at };
}

/** A read older than this many polls is stale: the page says so in words, not only a number. */
const STALE_POLLS = 3;

/**
 * "Updated 2 s ago" under a live page's title, ticking each second; past a few missed polls it
 * says the page is out of date, so an operator never acts on a frozen page thinking it is live.
 */
export function Freshness({ at }: { at: number | undefined }) {
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(timer);
  }, []);
  if (at === undefined) {
    return (
      <p className="fresh muted" data-fresh="loading">
        Loading…
      </p>
    );
  }
  const seconds = Math.max(0, Math.round((now - at) / 1000));
  const stale = now - at > STALE_POLLS * LIVE_MS;
  return (
    <p
      className={`fresh ${stale ? 'error' : 'muted'}`}
      data-fresh={stale ? 'stale' : 'live'}
      title={new Date(at).toLocaleString()}
    >
      {stale
        ? `Out of date: last updated ${seconds} s ago; retrying.`
        : `Live · updated ${seconds} s ago`}
    </p>
  );
}
