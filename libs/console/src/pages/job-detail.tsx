import { useState } from 'react';
import { useApi } from '../swr.ts';
import { Link } from 'wouter';
import type { components } from '@psc/api-client';
import { LIVE_MS, useSession } from '../context.ts';
import { fieldsText } from '@psc/api-client';
import { ago, FINISHED, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ActionButton, Can, ErrorBox, LongText, PageError, Section, Status } from '../ui.tsx';
import { CollectionView } from './collect-collection.tsx';
import { usePlatformNames } from '../filters.tsx';

type Job = components['schemas']['Job'];

/** Lines shown: a job logs a few per attempt (start, waits, retries, its outcome). */
const LOG_LINES = 100;
/** Services ship their lines every half second or so: a job's last ones come after it ended. */
const LOG_SETTLE_MS = 10_000;

/**
 * The job's own log lines from every service (the log store keeps warnings and errors, and every
 * line about a job), oldest first, as its story reads; live until a while after the job ended.
 */
function JobLog({ id, finishedAt }: { id: string; finishedAt: string | null }) {
  const { client } = useSession();
  const { data, error } = useApi(
    ['job-log', id],
    () =>
      unwrap(
        client.GET('/api/v1/logs', {
          params: { query: { jobId: id, level: 'debug', limit: LOG_LINES } },
        }),
      ),
    {
      refreshInterval: () =>
        finishedAt && Date.now() - Date.parse(finishedAt) > LOG_SETTLE_MS ? 0 : LIVE_MS,
    },
  );
  if (!data) return error ? <ErrorBox error={error} /> : <p className="loading">Loading…</p>;
  if (data.items.length === 0) return <p className="muted">No log lines yet.</p>;
  return (
    <>
      <ErrorBox error={error} />
      <table aria-label="Job log">
        <thead>
          <tr>
            <th>At</th>
            <th>Level</th>
            <th>Service</th>
            <th>Message</th>
            <th>Fields</th>
          </tr>
        </thead>
        <tbody>
          {[...data.items].reverse().map((e) => (
            <tr key={e.id} data-level={e.level}>
              <td>{time(e.at)}</td>
              <td>
                <span className={`level level-${e.level}`}>{e.level}</span>
              </td>
              <td>{e.service}</td>
              <td>
                <LongText text={e.message} />
              </td>
              <td className="fields">
                <code>{fieldsText(e.fields)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
    </>
  );
}

export function JobDetail({ id }: { id: string }) {
  const { client } = useSession();
  const names = usePlatformNames();
  // The API answers a cancel with the job as it was: a running one runs on until its next page.
  // Without this, the page went on showing it running with Cancel job offered, as if nothing
  // had been asked.
  const [cancelAsked, setCancelAsked] = useState<string | null>(null);
  const {
    data: job,
    error,
    mutate,
  } = useApi(
    ['job', id],
    () => unwrap(client.GET('/api/v1/jobs/{id}', { params: { path: { id } } })),
    { refreshInterval: (j?: Job) => (j && FINISHED.has(j.status) ? 0 : LIVE_MS) },
  );
  // A failed poll keeps the job shown, with why it is not current.
  if (!job) {
    return error ? (
      <PageError error={error} what="job" list={['/jobs', 'All jobs']} />
    ) : (
      <p className="loading">Loading…</p>
    );
  }
  const children = Object.entries(job.stats?.children ?? {});
  return (
    <>
      <h1>
        Job {job.id.slice(0, 8)} <Status value={job.status} />
      </h1>
      <ErrorBox error={error} />
      {cancelAsked && !FINISHED.has(job.status) ? (
        <p role="status">
          Cancel requested {ago(cancelAsked)}
          {job.status === 'running'
            ? ': a running job stops at its next page, so not before the platform answers the request it is waiting on. This page shows it end.'
            : ': this page shows it end.'}
        </p>
      ) : null}
      <Can role="operator">
        {FINISHED.has(job.status) || cancelAsked ? null : (
          <ActionButton
            label="Cancel job"
            reason
            danger
            action={(reason) =>
              unwrap(
                client.POST('/api/v1/jobs/{id}/cancel', {
                  params: { path: { id } },
                  body: { reason },
                }),
              )
            }
            onDone={() => {
              setCancelAsked(new Date().toISOString());
              void mutate();
            }}
          />
        )}
      </Can>
      <dl>
        <dt>Platform</dt>
        <dd>
          <Link href={`/platforms/${job.platformId}`}>
            {names.get(job.platformId) ?? job.platformId}
          </Link>
        </dd>
        <dt>Resource · task</dt>
        <dd>
          {job.resource} · {job.taskType} (run {job.run}, priority {job.priority}, {job.trigger})
        </dd>
        {job.backfillId ? (
          <>
            <dt>Backfill</dt>
            <dd>
              <Link href={`/backfills?open=${job.backfillId}`}>{job.backfillId.slice(0, 8)}</Link>
            </dd>
          </>
        ) : null}
        <dt>Attempts</dt>
        <dd>
          {job.attempts}
          {job.nextAttemptAt ? ` · next at ${time(job.nextAttemptAt)}` : ''}
        </dd>
        <dt>Progress</dt>
        <dd>
          {job.progress ? `${job.progress.pages} pages · ${job.progress.records} records` : '—'}
        </dd>
        <dt>Created · started · finished</dt>
        <dd>
          {time(job.createdAt)} · {time(job.startedAt)} · {time(job.finishedAt)}
        </dd>
        <dt>Trace id</dt>
        <dd>
          <code>{job.traceId ?? '—'}</code>
        </dd>
        {job.error ? (
          <>
            <dt>Error</dt>
            <dd>
              <LongText className="error" text={`${job.error.class}: ${job.error.message}`} />
            </dd>
          </>
        ) : null}
      </dl>
      {job.taskType === 'collect' ? (
        <CollectionView jobId={job.id} jobLive={!FINISHED.has(job.status)} />
      ) : null}
      <Section title="Stats">
        {job.stats ? (
          <table>
            <thead>
              <tr>
                <th />
                <th>Fetched</th>
                <th>Inserted</th>
                <th>Updated</th>
                <th>Unchanged</th>
                <th>Deleted</th>
              </tr>
            </thead>
            <tbody>
              {[['total', job.stats] as const, ...children].map(([name, s]) => (
                <tr key={name}>
                  <td>{name}</td>
                  <td>{s.fetched}</td>
                  <td>{s.inserted}</td>
                  <td>{s.updated}</td>
                  <td>{s.unchanged}</td>
                  <td>{s.deleted ?? 0}</td>
                </tr>
              ))}
            </tbody>
          </table>
        ) : (
          <p className="muted">
            {FINISHED.has(job.status)
              ? // The ledger takes stats from a success only; progress counts what a failed run did.
                `None: the job ended ${job.status}, and stats come with a success only. Progress above counts what it did.`
              : 'No stats yet.'}
          </p>
        )}
      </Section>
      {Object.keys(job.params).length ? (
        <Section title="Params">
          <pre>{JSON.stringify(job.params, null, 2)}</pre>
        </Section>
      ) : null}
      <Section title="Log">
        <p className="muted">
          <Link href={`/logs?level=debug&jobId=${job.id}`}>Open in Logs</Link> to filter and page
          through every line.
        </p>
        <JobLog id={job.id} finishedAt={FINISHED.has(job.status) ? job.finishedAt : null} />
      </Section>
    </>
  );
}
