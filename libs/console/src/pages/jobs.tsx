import { useState } from 'react';
import { useApi } from '../swr.ts';
import { Link, useLocation } from 'wouter';
import { JOB_STATUSES, TASK_TYPES, type components } from '@psc/api-client';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, sinceOf, WINDOWS } from '../format.ts';
import { unwrap } from '../session.ts';
import { ErrorBox, Freshness, Status, useFreshness } from '../ui.tsx';
import { PlatformSelect, usePlatformNames, useUrlFilters } from '../filters.tsx';

type Job = components['schemas']['Job'];
interface Query {
  status?: Job['status'];
  taskType?: Job['taskType'];
  platformId?: string;
  since?: string;
  backfillId?: string;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Jumps to a job's page by its id (a whole UUID, from a log line, an alert or a colleague). */
function OpenJob() {
  const [, navigate] = useLocation();
  const [id, setId] = useState('');
  const value = id.trim();
  const wrong = value !== '' && !UUID.test(value);
  return (
    <form
      className="inline-form"
      role="search"
      aria-label="Open a job by id"
      onSubmit={(e) => {
        e.preventDefault();
        if (UUID.test(value)) navigate(`/jobs/${value.toLowerCase()}`);
      }}
    >
      <input
        aria-label="Job id"
        placeholder="Job id"
        size={38}
        value={id}
        aria-invalid={wrong}
        onChange={(e) => setId(e.target.value)}
      />
      <button type="submit" disabled={!UUID.test(value)}>
        Open job
      </button>
      {wrong ? <span className="hint">A job id is a whole UUID.</span> : null}
    </form>
  );
}

export function Jobs() {
  const { client } = useSession();
  // Every filter lives in the URL: the overview links to a status, and a view can be shared.
  const { params, set } = useUrlFilters();
  const status = params.get('status') ?? '';
  const taskType = params.get('taskType') ?? '';
  const platformId = params.get('platformId') ?? '';
  // Minutes of one of the windows offered; anything else in the URL is no window.
  const asked = Number(params.get('since') ?? 0);
  const minutes = WINDOWS.some(([, m]) => m === asked) ? asked : 0;
  const backfillId = params.get('backfillId') ?? '';
  // An id half typed is no filter yet: the API would refuse it at every keystroke.
  const [backfillInput, setBackfillInput] = useState(backfillId);
  const setBackfillId = (value: string) => set('backfillId', value);
  const names = usePlatformNames();
  const { mark, at } = useFreshness(['jobs']);
  const { data, error } = useApi(
    ['jobs', status, taskType, platformId, minutes, backfillId],
    () => {
      const query: Query = {
        ...(status ? { status: status as Query['status'] } : {}),
        ...(taskType ? { taskType: taskType as Query['taskType'] } : {}),
        ...(platformId ? { platformId } : {}),
        ...(backfillId ? { backfillId } : {}),
        ...sinceOf(minutes),
      };
      return unwrap(client.GET('/api/v1/jobs', { params: { query: { ...query, limit: 100 } } }));
    },
    { refreshInterval: LIVE_MS, onSuccess: mark('jobs') },
  );
  return (
    <>
      <h1>Jobs</h1>
      <OpenJob />
      <Freshness at={at} />
      <div className="inline-form" aria-label="Filters">
        <select aria-label="Status" value={status} onChange={(e) => set('status', e.target.value)}>
          <option value="">any status</option>
          {JOB_STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
        <select
          aria-label="Task"
          value={taskType}
          onChange={(e) => set('taskType', e.target.value)}
        >
          <option value="">any task</option>
          {TASK_TYPES.map((t) => (
            <option key={t}>{t}</option>
          ))}
        </select>
        <PlatformSelect value={platformId} names={names} onChange={(id) => set('platformId', id)} />
        <select
          aria-label="Since"
          value={minutes}
          onChange={(e) => set('since', e.target.value === '0' ? '' : e.target.value)}
        >
          {WINDOWS.map(([label, m]) => (
            <option key={m} value={m}>
              {label}
            </option>
          ))}
        </select>
        <input
          aria-label="Backfill id"
          placeholder="Backfill id"
          size={38}
          value={backfillInput}
          onChange={(e) => {
            const value = e.target.value.trim();
            setBackfillInput(value);
            if (!value || UUID.test(value)) setBackfillId(value);
          }}
        />
        {backfillId ? <Link href={`/backfills?open=${backfillId}`}>Open the backfill</Link> : null}
      </div>
      {backfillInput && !UUID.test(backfillInput) ? (
        <p className="hint">A backfill id is a whole UUID, as on the Backfills page.</p>
      ) : null}
      <ErrorBox error={error} />
      <table aria-label="Jobs">
        <thead>
          <tr>
            <th>Job</th>
            <th>Platform</th>
            <th>Resource</th>
            <th>Task</th>
            <th>Status</th>
            <th>Progress</th>
            <th>Attempts</th>
            <th>Trigger</th>
            <th>Created</th>
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((j) => (
            <tr key={j.id} data-status={j.status}>
              <td>
                <Link href={`/jobs/${j.id}`}>{j.id.slice(0, 8)}</Link>
              </td>
              <td>{names.get(j.platformId) ?? j.platformId.slice(0, 8)}</td>
              <td>{j.resource}</td>
              <td>{j.taskType}</td>
              <td>
                <Status value={j.status} />
              </td>
              <td>
                {j.progress ? `${j.progress.pages} pages · ${j.progress.records} records` : '—'}
              </td>
              <td>{j.attempts}</td>
              <td>{j.trigger}</td>
              <td>{ago(j.createdAt)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 ? (
        <p className="muted">
          {status || taskType || platformId || minutes || backfillId
            ? 'No jobs match these filters.'
            : 'No jobs yet.'}
        </p>
      ) : null}
      {data?.nextCursor ? (
        <p className="muted">Showing the newest 100; narrow the filters.</p>
      ) : null}
    </>
  );
}
