import { useState, type FormEvent, type ReactNode } from 'react';
import { allows, type Role } from './session.ts';
import { useSession } from './context.ts';

export function ErrorBox({ error }: { error: unknown }) {
  if (!error) return null;
  return (
    <p className="error" role="alert">
      {error instanceof Error ? error.message : 'Something went wrong'}
    </p>
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
 * API records why an operator paused or stopped something).
 */
export function ActionButton(props: {
  label: string;
  action: (reason: string) => Promise<unknown>;
  reason?: boolean;
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
    return (
      <form className="inline-form" onSubmit={(e) => void run(e)}>
        <input
          aria-label={`Reason to ${props.label.toLowerCase()}`}
          placeholder="Reason"
          required
          maxLength={500}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <button type="submit" className={className} disabled={busy}>
          {props.label}
        </button>
        <button type="button" onClick={() => setAsking(false)}>
          Cancel
        </button>
        <ErrorBox error={error} />
      </form>
    );
  }
  return (
    <span className="action">
      <button
        type="button"
        className={className}
        disabled={busy || props.disabled}
        onClick={() => (props.reason ? setAsking(true) : void run())}
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
