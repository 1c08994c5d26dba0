import { useState, type FormEvent, type ReactNode } from 'react';
import { allows, ApiError, type Role } from './session.ts';
import { useSession } from './context.ts';
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

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  const message = error instanceof Error ? error.message : 'Something went wrong';
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
  if (props.reason && asking) {
    // The question, if any, with the reason's box; a cancel's question is dismissed with Keep.
    return (
      <form
        className="inline-form"
        {...(props.confirm ? { 'aria-label': props.confirm } : {})}
        onSubmit={(e) => void run(e)}
      >
        {props.confirm ? <span>{props.confirm}</span> : null}
        <input
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
      <span className="inline-form" role="group" aria-label={props.confirm}>
        <span>{props.confirm}</span>
        <button type="button" className={className} disabled={busy} onClick={() => void run()}>
          {props.label}
        </button>
        <button type="button" onClick={() => setAsking(false)}>
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

export function Section({ title, children }: { title: string; children: ReactNode }) {
  return (
    <section aria-label={title}>
      <h2>{title}</h2>
      {children}
    </section>
  );
}
