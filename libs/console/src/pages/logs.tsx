import { useState } from 'react';
import { Link } from 'wouter';
import { LOG_LEVELS, type LogLevel } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { LIVE_MS, useSession } from '../context.ts';
import { fieldsText } from '@psc/api-client';
import { sinceOf, time, WINDOWS } from '../format.ts';
import { unwrap } from '../session.ts';
import { Pager, pageSummary, useCursors } from '../pager.tsx';
import { ErrorBox } from '../ui.tsx';
import { PlatformSelect, usePlatformNames, useUrlFilters } from '../filters.tsx';

/** Lines per page; "Older" pages back with the API's cursor. */
const PAGE = 100;
/** The services that ship lines, offered while typing (any name may be typed). */
const SERVICES = ['platform-registry', 'scheduler', 'sync-worker', 'collector', 'gateway'];
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const isLevel = (value: string | null): value is LogLevel =>
  (LOG_LEVELS as readonly (string | null)[]).includes(value);

/**
 * Every service's warnings and errors and each job's own lines, newest first. The filters live in
 * the URL (`?level=warn&service=…&platformId=…&jobId=…&minutes=…`), so a view can be shared and
 * survives a reload; "Follow" polls the newest page, "Older" and "Newer" page with the cursor.
 */
export function Logs() {
  const { client } = useSession();
  const { params, set, setParams } = useUrlFilters();
  const level = isLevel(params.get('level')) ? (params.get('level') as LogLevel) : 'info';
  const service = params.get('service') ?? '';
  const platformId = params.get('platformId') ?? '';
  const jobId = params.get('jobId') ?? '';
  const minutes = Number(params.get('minutes')) || 0;
  // A job id half typed is no filter yet: the API would refuse it at every keystroke.
  const [jobInput, setJobInput] = useState(jobId);
  const [follow, setFollow] = useState(true);

  const names = usePlatformNames();

  const filter = JSON.stringify([level, service, platformId, jobId, minutes]);
  const paging = useCursors(filter);
  const { cursor } = paging;
  const { data, error } = useApi(
    ['logs', filter, cursor],
    async () => {
      const query = {
        level,
        limit: PAGE,
        ...(service ? { service } : {}),
        ...(platformId ? { platformId } : {}),
        ...(jobId ? { jobId } : {}),
        ...sinceOf(minutes),
        ...(cursor ? { cursor } : {}),
      };
      const page = await unwrap(client.GET('/api/v1/logs', { params: { query } }));
      return { filter, items: page.items, nextCursor: page.nextCursor };
    },
    // Only the newest page moves; an older one stays as it was read. The rows stay while the
    // next page loads; rows of other filters are never shown as these.
    { refreshInterval: follow && !cursor ? LIVE_MS : 0, keepPreviousData: true },
  );
  const current = data?.filter === filter ? data : undefined;

  return (
    <>
      <h1>Logs</h1>
      <div className="inline-form" aria-label="Filters">
        <select aria-label="Level" value={level} onChange={(e) => set('level', e.target.value)}>
          {LOG_LEVELS.map((l) => (
            <option key={l} value={l}>
              {l === 'fatal' ? l : `${l} and above`}
            </option>
          ))}
        </select>
        <input
          aria-label="Service"
          placeholder="Service"
          list="log-services"
          maxLength={100}
          value={service}
          onChange={(e) => set('service', e.target.value.trim())}
        />
        <datalist id="log-services">
          {SERVICES.map((s) => (
            <option key={s} value={s} />
          ))}
        </datalist>
        <PlatformSelect value={platformId} names={names} onChange={(id) => set('platformId', id)} />
        <input
          aria-label="Job id"
          placeholder="Job id"
          size={38}
          value={jobInput}
          onChange={(e) => {
            const value = e.target.value.trim();
            setJobInput(value);
            if (!value || UUID.test(value)) set('jobId', value);
          }}
        />
        <select
          aria-label="Since"
          value={minutes}
          onChange={(e) => set('minutes', e.target.value === '0' ? '' : e.target.value)}
        >
          {WINDOWS.map(([label, m]) => (
            <option key={m} value={m}>
              {label}
            </option>
          ))}
        </select>
        <label>
          <input type="checkbox" checked={follow} onChange={(e) => setFollow(e.target.checked)} />
          Follow
        </label>
        <button
          type="button"
          disabled={params.size === 0}
          onClick={() => {
            setJobInput('');
            setParams('', { replace: true });
          }}
        >
          Clear filters
        </button>
      </div>
      {jobInput && !UUID.test(jobInput) ? (
        <p className="hint">A job id is a whole UUID, as on the job’s page.</p>
      ) : null}
      <ErrorBox error={error} />
      {!current ? (
        error ? null : (
          <p className="loading">Loading…</p>
        )
      ) : current.items.length === 0 ? (
        <p className="muted">No log lines match these filters.</p>
      ) : (
        <table aria-label="Log lines">
          <thead>
            <tr>
              <th>At</th>
              <th>Level</th>
              <th>Service</th>
              <th>Message</th>
              <th>Platform</th>
              <th>Job</th>
              <th>Fields</th>
            </tr>
          </thead>
          <tbody>
            {current.items.map((e) => (
              <tr key={e.id} data-id={e.id} data-level={e.level}>
                <td className="nowrap" title={e.at}>
                  {time(e.at)}
                </td>
                <td>
                  <span className={`level level-${e.level}`}>{e.level}</span>
                </td>
                <td>{e.service}</td>
                <td>{e.message}</td>
                <td>
                  {e.platformId ? (
                    <Link href={`/platforms/${e.platformId}`}>
                      {names.get(e.platformId) ?? e.platformId.slice(0, 8)}
                    </Link>
                  ) : (
                    '—'
                  )}
                </td>
                <td>
                  {e.jobId ? <Link href={`/jobs/${e.jobId}`}>{e.jobId.slice(0, 8)}</Link> : '—'}
                </td>
                <td className="fields">
                  <code>
                    {fieldsText(e.traceId ? { ...e.fields, traceId: e.traceId } : e.fields)}
                  </code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {current ? (
        <Pager
          always
          paging={paging}
          nextCursor={current.nextCursor}
          summary={pageSummary(current.items.length, ['line', 'lines'], paging)}
        />
      ) : null}
    </>
  );
}
