import { useApi } from '../swr.ts';
import { useSession } from '../context.ts';
import { time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ErrorBox } from '../ui.tsx';

const pretty = (value: unknown): string =>
  typeof value === 'string' ? value : JSON.stringify(value, null, 2);

/** One dead letter opened from the list: why it died and its message (secrets redacted). */
export function DeadLetterDetail({ id }: { id: string }) {
  const { client } = useSession();
  // A dead letter does not change; only replay or delete remove it, and the list shows that.
  const { data: d, error } = useApi(['dead-letter', id], () =>
    unwrap(client.GET('/api/v1/dlq/{jobId}', { params: { path: { jobId: id } } })),
  );
  if (error) return <ErrorBox error={error} />;
  if (!d) return <p className="loading">Loading…</p>;
  return (
    <section aria-label="Dead letter" className="dead-letter">
      <dl>
        <dt>Reason</dt>
        <dd className="error">{d.reason}</dd>
        {d.error ? (
          <>
            <dt>Last error</dt>
            <dd>
              {d.error.class}: {d.error.message}
            </dd>
          </>
        ) : null}
        <dt>Queue · run · attempts</dt>
        <dd>
          {d.queue} · {d.run ?? '—'} · {d.attempts}
        </dd>
        <dt>Died</dt>
        <dd>{time(d.deadAt)}</dd>
        {d.message ? (
          <>
            <dt>Message type · id</dt>
            <dd>
              {d.message.type ?? '—'} · <code>{d.message.messageId ?? '—'}</code>
            </dd>
          </>
        ) : null}
      </dl>
      {d.message ? (
        <>
          <h3>Headers</h3>
          <pre aria-label="Headers">{pretty(d.message.headers)}</pre>
          <h3>Payload{d.message.truncated ? ' (the first 2,000 characters)' : ''}</h3>
          <pre aria-label="Payload">{pretty(d.message.payload)}</pre>
          <p className="muted">Secrets are shown as [redacted].</p>
        </>
      ) : (
        <p className="muted">No message is kept: the job has been purged from the ledger.</p>
      )}
    </section>
  );
}
