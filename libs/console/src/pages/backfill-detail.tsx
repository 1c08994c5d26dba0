import { Link } from 'wouter';
import { useApi } from '../swr.ts';
import { LIVE_MS, useSession } from '../context.ts';
import { time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ErrorBox, Status } from '../ui.tsx';
import { ProgressCell, rangeText, type Backfill } from './backfill-view.tsx';

/** A finished backfill still changes: a replayed step that passes turns `failed` to `succeeded`. */
const SETTLED_MS = 5000;

/** Every step state the API counts, as columns. */
const COLUMNS: [keyof Backfill['progress'], string][] = [
  ['steps', 'Steps'],
  ['pending', 'Pending'],
  ['queued', 'Queued'],
  ['running', 'Running'],
  ['waiting', 'Retrying or waiting'],
  ['succeeded', 'Succeeded'],
  ['failed', 'Failed'],
  ['dead', 'Dead'],
  ['cancelled', 'Cancelled'],
  ['purged', 'Purged'],
];

/** One backfill in full: its status, progress per step state, params template and its jobs. */
export function BackfillDetail({ id, platformName }: { id: string; platformName?: string }) {
  const { client } = useSession();
  const { data: b, error } = useApi(
    ['backfill', id],
    () => unwrap(client.GET('/api/v1/backfills/{id}', { params: { path: { id } } })),
    {
      refreshInterval: (latest?: Backfill) => (latest?.status === 'running' ? LIVE_MS : SETTLED_MS),
    },
  );
  if (!b) return error ? <ErrorBox error={error} /> : <p className="loading">Loading…</p>;
  const template = Object.keys(b.paramsTemplate).length
    ? JSON.stringify(b.paramsTemplate, null, 2)
    : null;
  return (
    <section aria-label={`Backfill ${b.id.slice(0, 8)}`}>
      <ErrorBox error={error} />
      <dl>
        <dt>Backfill</dt>
        <dd>
          <code>{b.id}</code>
        </dd>
        <dt>Status</dt>
        <dd>
          <Status value={b.status} />
          {b.cancelReason ? <span className="reason"> {b.cancelReason}</span> : null}
          {b.finishedAt ? <span className="muted"> · ended {time(b.finishedAt)}</span> : null}
        </dd>
        <dt>Platform · resource · task</dt>
        <dd>
          <Link href={`/platforms/${b.platformId}`}>{platformName ?? b.platformId}</Link> ·{' '}
          {b.resource} · {b.taskType}
        </dd>
        <dt>Range</dt>
        <dd title={`${b.from} → ${b.to}`}>
          {rangeText(b)}, one run per {b.step} in {b.timezone}
        </dd>
        <dt>Runs at once · priority</dt>
        <dd>
          {b.maxConcurrent} · {b.priority}
        </dd>
        <dt>Created</dt>
        <dd>{time(b.createdAt)}</dd>
        <dt>Progress</dt>
        <dd>
          <ProgressCell backfill={b} />
        </dd>
      </dl>
      <table aria-label="Steps by state">
        <thead>
          <tr>
            {COLUMNS.map(([key, label]) => (
              <th key={key}>{label}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr>
            {COLUMNS.map(([key]) => (
              <td key={key} data-state={key}>
                {b.progress[key]}
              </td>
            ))}
          </tr>
        </tbody>
      </table>
      <h3>Params template</h3>
      {template ? (
        <pre aria-label="Params template">{template}</pre>
      ) : (
        <p className="muted">None: every run takes no params.</p>
      )}
      <p>
        <Link href={`/jobs?backfillId=${b.id}`}>Its jobs</Link>{' '}
        <span className="muted">
          (the job of each step that has run, those it took over from a schedule or an earlier
          backfill included)
        </span>
      </p>
    </section>
  );
}
