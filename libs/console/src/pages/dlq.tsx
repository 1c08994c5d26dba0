import { Fragment, useState } from 'react';
import { TASK_TYPES, type TaskType as Task } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { Link } from 'wouter';
import { PlatformSelect, usePlatformNames, useUrlFilters } from '../filters.tsx';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ActionButton, Can, ErrorBox, Freshness, useFreshness } from '../ui.tsx';
import { DeadLetterDetail } from './dead-letter.tsx';

/** What "Replay all shown" will do, asked before: it may be many jobs at once, of which platform. */
function replayAllQuestion(shown: number, more: boolean, scope: string[]): string {
  const jobs = `${shown}${more ? '+' : ''} dead job${shown === 1 && !more ? '' : 's'}`;
  const which = scope.length
    ? `matching these filters (${scope.join(', ')})`
    : 'of every platform and task';
  return `Replay ${jobs} ${which}${more ? ' (more than this page shows)' : ''}? Each runs again at once.`;
}

/** What a replay did, and where to watch the jobs it ran again. */
interface Outcome {
  text: string;
  follow: string;
}

export function DeadLetters() {
  const { client } = useSession();
  // Platform and task live in the URL: the overview links to one platform's dead letters.
  const { params, set } = useUrlFilters();
  const platformId = params.get('platformId') ?? '';
  const asked = params.get('taskType') ?? '';
  const taskType = (TASK_TYPES as readonly string[]).includes(asked) ? (asked as Task) : '';
  const [reason, setReason] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<Outcome | null>(null);
  const names = usePlatformNames();
  const { mark, at } = useFreshness(['dlq']);
  const filter = {
    ...(platformId ? { platformId } : {}),
    ...(taskType ? { taskType } : {}),
    ...(reason ? { reason } : {}),
  };
  const { data, error, mutate } = useApi(
    ['dlq', platformId, taskType, reason],
    () => unwrap(client.GET('/api/v1/dlq', { params: { query: { ...filter, limit: 100 } } })),
    { refreshInterval: LIVE_MS, onSuccess: mark('dlq') },
  );
  const refresh = () => void mutate();
  // A replay runs the same jobs again (same ids, trigger "replay"): the jobs page follows them.
  const follow = (p: string, t: string) =>
    `/jobs?${new URLSearchParams({ ...(p ? { platformId: p } : {}), ...(t ? { taskType: t } : {}), since: '60' }).toString()}`;
  const replayed = (
    r: { replayed: string[]; more: boolean },
    scope = follow(platformId, taskType),
  ) =>
    setOutcome({
      text:
        `Replayed ${r.replayed.length.toLocaleString('en')} job${r.replayed.length === 1 ? '' : 's'}` +
        // One call takes the oldest 10,000; the rest wait for the next.
        (r.more ? '. More match: Replay all shown again for the next ones.' : '.'),
      follow: r.replayed.length === 1 ? `/jobs/${r.replayed[0] ?? ''}` : scope,
    });
  return (
    <>
      <h1>Dead letters</h1>
      <Freshness at={at} />
      <div className="inline-form" aria-label="Filters">
        <PlatformSelect value={platformId} names={names} onChange={(id) => set('platformId', id)} />
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
        <input
          aria-label="Reason contains"
          placeholder="Reason"
          maxLength={200}
          value={reason}
          onChange={(e) => setReason(e.target.value)}
        />
        <Can role="operator">
          <ActionButton
            label="Replay all shown"
            disabled={!data?.items.some((d) => d.replayable)}
            // The API replays every dead job the filters match, not only the page's first 100.
            confirm={replayAllQuestion(
              data?.items.filter((d) => d.replayable).length ?? 0,
              !!data?.nextCursor,
              [
                ...(platformId ? [`platform ${names.get(platformId) ?? platformId}`] : []),
                ...(taskType ? [`task ${taskType}`] : []),
                ...(reason ? [`reason containing “${reason}”`] : []),
              ],
            )}
            action={async () =>
              replayed(await unwrap(client.POST('/api/v1/dlq/replay', { body: filter })))
            }
            onDone={refresh}
          />
        </Can>
      </div>
      {outcome ? (
        <p role="status">
          {outcome.text}{' '}
          <Link href={outcome.follow}>
            {outcome.follow.startsWith('/jobs?') ? 'Follow them in Jobs' : 'Follow it'}
          </Link>
        </p>
      ) : null}
      <ErrorBox error={error} />
      <table aria-label="Dead letters">
        <thead>
          <tr>
            <th>Job</th>
            <th>Platform</th>
            <th>Task</th>
            <th>Resource</th>
            <th>Reason</th>
            <th>Attempts</th>
            <th>Died</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((d) => (
            <Fragment key={d.id}>
              <tr data-job={d.jobId ?? ''} data-id={d.id}>
                <td>
                  {d.jobId ? <Link href={`/jobs/${d.jobId}`}>{d.jobId.slice(0, 8)}</Link> : '—'}
                </td>
                <td>
                  {d.platformId ? (
                    <Link href={`/platforms/${d.platformId}`}>
                      {names.get(d.platformId) ?? d.platformId.slice(0, 8)}
                    </Link>
                  ) : (
                    '—'
                  )}
                </td>
                <td>{d.taskType ?? '—'}</td>
                <td>{d.resource ?? '—'}</td>
                <td className="clip">{d.reason}</td>
                <td>{d.attempts}</td>
                <td title={time(d.deadAt)}>{ago(d.deadAt)}</td>
                <td>
                  <div className="row-actions">
                    <button type="button" onClick={() => setOpen(open === d.id ? null : d.id)}>
                      {open === d.id ? 'Hide' : 'Inspect'}
                    </button>
                    {d.jobId ? (
                      <Can role="operator">
                        <ActionButton
                          label="Replay"
                          disabled={!d.replayable}
                          action={async () =>
                            replayed(
                              await unwrap(
                                client.POST('/api/v1/dlq/{jobId}/replay', {
                                  params: { path: { jobId: d.jobId ?? '' } },
                                }),
                              ),
                            )
                          }
                          onDone={refresh}
                        />
                        <ActionButton
                          label="Delete"
                          danger
                          confirm="Forget this dead job? It cannot be replayed afterwards."
                          action={() =>
                            unwrap(
                              client.DELETE('/api/v1/dlq/{jobId}', {
                                params: { path: { jobId: d.jobId ?? '' } },
                              }),
                            )
                          }
                          onDone={refresh}
                        />
                      </Can>
                    ) : null}
                  </div>
                </td>
              </tr>
              {open === d.id ? (
                <tr className="detail">
                  <td colSpan={8}>
                    <DeadLetterDetail
                      id={d.id}
                      replayable={d.replayable}
                      onReplayed={() => {
                        setOpen(null);
                        replayed({ replayed: [d.jobId ?? d.id], more: false });
                        refresh();
                      }}
                    />
                  </td>
                </tr>
              ) : null}
            </Fragment>
          ))}
        </tbody>
      </table>
      {data && data.items.length === 0 ? (
        <p className="muted">
          {platformId || taskType || reason
            ? 'No dead letters match these filters.'
            : 'No dead letters: nothing has failed for good.'}
        </p>
      ) : null}
      {data?.nextCursor ? <p className="muted">Showing the first 100.</p> : null}
    </>
  );
}
