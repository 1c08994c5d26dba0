import { useState, type FormEvent } from 'react';
import { useApi } from '../swr.ts';
import { useSession } from '../context.ts';
import { time } from '../format.ts';
import { editableParams, paramsPatch, parseParams } from '../params-patch.ts';
import { unwrap } from '../session.ts';
import { Can, ErrorBox, LongText } from '../ui.tsx';

const pretty = (value: unknown): string =>
  typeof value === 'string' ? value : JSON.stringify(value, null, 2);

/** The params of a dead job's `job.run` (the envelope's payload), if the letter kept it. */
function jobParamsOf(message: { payload?: unknown } | null): unknown {
  const envelope = message?.payload as { payload?: { params?: unknown } } | undefined;
  return envelope?.payload?.params;
}

/**
 * Replays a dead job with edited params: the editor holds the job's params but its secrets,
 * and what the operator changed or removed is sent as a merge patch, so the secrets stay.
 */
function ReplayWithParams(props: { jobId: string; params: unknown; onReplayed: () => void }) {
  const { client } = useSession();
  const [before] = useState(() => editableParams(props.params));
  const [text, setText] = useState(() => JSON.stringify(before, null, 2));
  const [reason, setReason] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setBusy(true);
    try {
      const patch = paramsPatch(before, parseParams(text));
      await unwrap(
        client.POST('/api/v1/dlq/{jobId}/replay', {
          params: { path: { jobId: props.jobId } },
          body: {
            ...(Object.keys(patch).length > 0 && { params: patch }),
            ...(reason.trim() && { reason: reason.trim() }),
          },
        }),
      );
      props.onReplayed();
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form aria-label="Replay with params" className="stacked" onSubmit={(e) => void submit(e)}>
      <h3>Replay with params</h3>
      <label>
        Params
        <textarea
          aria-label="Params"
          rows={Math.min(12, text.split('\n').length + 1)}
          spellCheck={false}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <p className="muted">
        Change or remove what was wrong. Secrets are not shown here and stay as the job has them.
      </p>
      <input
        aria-label="Reason for the replay"
        placeholder="Reason (kept in the audit trail)"
        maxLength={500}
        value={reason}
        onChange={(e) => setReason(e.target.value)}
      />
      <button type="submit" disabled={busy}>
        Replay with these params
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

/**
 * One dead letter opened from the list: why it died and its message (secrets redacted); for a
 * replayable job, operators may replay it with edited params.
 */
export function DeadLetterDetail({
  id,
  replayable = false,
  onReplayed = () => undefined,
}: {
  id: string;
  replayable?: boolean;
  onReplayed?: () => void;
}) {
  const { client } = useSession();
  // A dead letter does not change; only replay or delete remove it, and the list shows that.
  const { data: d, error } = useApi(['dead-letter', id], () =>
    unwrap(client.GET('/api/v1/dlq/{jobId}', { params: { path: { jobId: id } } })),
  );
  if (!d) return error ? <ErrorBox error={error} /> : <p className="loading">Loading…</p>;
  return (
    <section aria-label="Dead letter" className="dead-letter">
      <dl>
        <dt>Reason</dt>
        <dd>
          <LongText className="error" text={d.reason} />
        </dd>
        {d.error ? (
          <>
            <dt>Last error</dt>
            <dd>
              <LongText text={`${d.error.class}: ${d.error.message}`} />
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
          {replayable && d.jobId ? (
            <Can role="operator">
              <ReplayWithParams
                jobId={d.jobId}
                params={jobParamsOf(d.message)}
                onReplayed={onReplayed}
              />
            </Can>
          ) : null}
        </>
      ) : (
        <p className="muted">No message is kept: the job has been purged from the ledger.</p>
      )}
    </section>
  );
}
