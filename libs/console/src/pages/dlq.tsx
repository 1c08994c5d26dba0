import { Fragment, useState } from 'react';
import { TASK_TYPES, type TaskType as Task } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { Link } from 'wouter';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ActionButton, Can, ErrorBox } from '../ui.tsx';
import { DeadLetterDetail } from './dead-letter.tsx';

/** What "Replay all shown" will do, asked before: it may be many jobs at once. */
function replayAllQuestion(shown: number, more: boolean, filter: object): string {
  const jobs = `${shown}${more ? '+' : ''} dead job${shown === 1 && !more ? '' : 's'}`;
  const scope = Object.keys(filter).length ? 'matching these filters' : 'of every task';
  return `Replay ${jobs} ${scope}${more ? ' (more than this page shows)' : ''}? Each runs again at once.`;
}

export function DeadLetters() {
  const { client } = useSession();
  const [taskType, setTaskType] = useState<Task | ''>('');
  const [reason, setReason] = useState('');
  const [open, setOpen] = useState<string | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const filter = { ...(taskType ? { taskType } : {}), ...(reason ? { reason } : {}) };
  const { data, error, mutate } = useApi(
    ['dlq', taskType, reason],
    () => unwrap(client.GET('/api/v1/dlq', { params: { query: { ...filter, limit: 100 } } })),
    { refreshInterval: LIVE_MS },
  );
  const refresh = () => void mutate();
  const replayed = (r: { replayed: string[]; more: boolean }) =>
    setOutcome(
      `Replayed ${r.replayed.length.toLocaleString('en')} job${r.replayed.length === 1 ? '' : 's'}` +
        // One call takes the oldest 10,000; the rest wait for the next.
        (r.more ? '. More match: Replay all shown again for the next ones.' : ''),
    );

  return (
    <>
      <h1>Dead letters</h1>
      <div className="inline-form">
        <select
          aria-label="Task"
          value={taskType}
          onChange={(e) => setTaskType(e.target.value as Task | '')}
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
              filter,
            )}
            action={async () =>
              replayed(await unwrap(client.POST('/api/v1/dlq/replay', { body: filter })))
            }
            onDone={refresh}
          />
        </Can>
      </div>
      {outcome ? <p role="status">{outcome}</p> : null}
      <ErrorBox error={error} />
      <table aria-label="Dead letters">
        <thead>
          <tr>
            <th>Job</th>
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
                  <td colSpan={7}>
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
          {taskType || reason
            ? 'No dead letters match these filters.'
            : 'No dead letters: nothing has failed for good.'}
        </p>
      ) : null}
      {data?.nextCursor ? <p className="muted">Showing the first 100.</p> : null}
    </>
  );
}
