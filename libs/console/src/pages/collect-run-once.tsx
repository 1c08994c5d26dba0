import { useState, type FormEvent } from 'react';
import { useSession } from '../context.ts';
import { unwrap } from '../session.ts';
import { ActionButton, ErrorBox } from '../ui.tsx';

interface Target {
  name: string;
  params: string[];
}

/** `racing/cards` → the route's `{platform}` and `{resource}`. */
export const pathOf = (name: string) => {
  const [platform = '', resource = ''] = name.split('/');
  return { platform, resource };
};

/**
 * Runs a collector once now. A collector that declares params gets a field for each: a blank one
 * is sent as no value, so the API's 422 names the params still missing rather than the console
 * guessing what the collector needs.
 */
export function RunOnce({
  collector,
  onStarted,
}: {
  collector: Target;
  onStarted: (jobId: string) => void;
}) {
  const { client } = useSession();
  const [open, setOpen] = useState(false);
  const [values, setValues] = useState<Record<string, string>>({});
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  const run = async (params: Record<string, string>) => {
    const started = await unwrap(
      client.POST('/api/v1/collectors/{platform}/{resource}/once', {
        params: { path: pathOf(collector.name) },
        body: { params },
      }),
    );
    onStarted(started.jobId);
  };

  if (collector.params.length === 0) {
    return <ActionButton label="Run once" action={() => run({})} />;
  }
  if (!open) {
    return (
      <button type="button" onClick={() => setOpen(true)}>
        Run once
      </button>
    );
  }

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      const given = collector.params.flatMap((p) => (values[p]?.trim() ? [[p, values[p]]] : []));
      await run(Object.fromEntries(given) as Record<string, string>);
      setOpen(false);
      setValues({});
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form
      className="inline-form"
      aria-label={`Run ${collector.name} once`}
      onSubmit={(e) => void submit(e)}
    >
      {collector.params.map((name) => (
        <input
          key={name}
          aria-label={`Value of ${name}`}
          placeholder={name}
          maxLength={2_000}
          value={values[name] ?? ''}
          onChange={(e) => setValues({ ...values, [name]: e.target.value })}
        />
      ))}
      <button type="submit" disabled={busy}>
        Run
      </button>
      <button
        type="button"
        onClick={() => {
          setOpen(false);
          setError(null);
        }}
      >
        Cancel
      </button>
      <ErrorBox error={error} />
    </form>
  );
}
