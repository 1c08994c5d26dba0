import { useApi } from '../swr.ts';
import { Link } from 'wouter';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ActionButton, Can, ErrorBox, Section, Status } from '../ui.tsx';
import { usePlatformNames } from '../filters.tsx';

export function Scheduler() {
  const { client } = useSession();
  const status = useApi('scheduler', () => unwrap(client.GET('/api/v1/scheduler')), {
    refreshInterval: LIVE_MS,
  });
  const configs = useApi('task-configs', () => unwrap(client.GET('/api/v1/scheduler/config')), {
    refreshInterval: LIVE_MS,
  });
  const schedules = useApi('schedules', () =>
    unwrap(client.GET('/api/v1/schedules', { params: { query: { limit: 100 } } })),
  );
  const names = usePlatformNames();
  const s = status.data;
  const refresh = () => {
    void status.mutate();
    void configs.mutate();
  };
  const control = (action: 'pause' | 'resume' | 'stop' | 'start') => (reason: string) =>
    unwrap(client.POST(`/api/v1/scheduler/${action}` as const, { body: { reason } }));

  return (
    <>
      <h1>Scheduler</h1>
      <div className="card wide" aria-label="Scheduler state">
        <Status value={s?.state} />
        {s?.reason ? <span className="reason"> {s.reason}</span> : null}
        <p className="muted">
          since {time(s?.changedAt)} · leader {s?.leader?.id ?? 'none'} (lease until{' '}
          {time(s?.leader?.leaseExpiresAt)}) · last tick {ago(s?.lastTickAt)}
        </p>
        <p className="muted">
          {s?.counts.activePlatforms ?? 0} of {s?.counts.platforms ?? 0} platforms active ·{' '}
          {s?.counts.schedules ?? 0} schedules, {s?.counts.pausedSchedules ?? 0} paused
        </p>
        <Can role="operator">
          <div className="actions">
            <ActionButton
              label="Pause"
              reason
              disabled={s?.state === 'paused'}
              action={control('pause')}
              onDone={refresh}
            />
            {s?.state === 'stopped' ? (
              <ActionButton label="Start" reason action={control('start')} onDone={refresh} />
            ) : (
              <ActionButton
                label="Resume"
                reason
                disabled={s?.state !== 'paused'}
                action={control('resume')}
                onDone={refresh}
              />
            )}
            <ActionButton
              label="Stop"
              reason
              danger
              disabled={s?.state === 'stopped'}
              action={control('stop')}
              onDone={refresh}
            />
          </div>
        </Can>
      </div>
      <ErrorBox error={status.error ?? configs.error} />
      <Section title="Task types">
        <table>
          <thead>
            <tr>
              <th>Task</th>
              <th>Enabled</th>
              <th>Every</th>
              <th>Paused</th>
              <th>Last run</th>
              <th>Next fire times</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {(configs.data?.items ?? []).map((c) => (
              <tr key={c.taskType}>
                <td>{c.taskType}</td>
                <td>{c.enabled ? 'yes' : 'no'}</td>
                <td>{c.intervalSeconds ? `${c.intervalSeconds} s` : (c.cron ?? '—')}</td>
                <td>{c.pausedReason ?? 'no'}</td>
                <td>{ago(c.lastRunAt)}</td>
                <td>{(c.nextFireTimes ?? []).slice(0, 3).map(time).join(' · ') || '—'}</td>
                <td>
                  <Can role="operator">
                    {c.pausedReason ? (
                      <ActionButton
                        label={`Resume ${c.taskType}`}
                        reason
                        action={(reason) =>
                          unwrap(
                            client.POST('/api/v1/scheduler/config/{taskType}/resume', {
                              params: { path: { taskType: c.taskType } },
                              body: { reason },
                            }),
                          )
                        }
                        onDone={refresh}
                      />
                    ) : (
                      <ActionButton
                        label={`Pause ${c.taskType}`}
                        reason
                        action={(reason) =>
                          unwrap(
                            client.POST('/api/v1/scheduler/config/{taskType}/pause', {
                              params: { path: { taskType: c.taskType } },
                              body: { reason },
                            }),
                          )
                        }
                        onDone={refresh}
                      />
                    )}
                  </Can>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Schedules">
        <table>
          <thead>
            <tr>
              <th>Platform</th>
              <th>Resource</th>
              <th>Task</th>
              <th>Next due</th>
              <th>Last run</th>
              <th>Failures in a row</th>
              <th>Paused</th>
            </tr>
          </thead>
          <tbody>
            {(schedules.data?.items ?? []).map((x) => (
              <tr key={`${x.platformId}-${x.resource}-${x.taskType}`}>
                <td>
                  <Link href={`/platforms/${x.platformId}`}>
                    {names.get(x.platformId) ?? x.platformId.slice(0, 8)}
                  </Link>
                </td>
                <td>{x.resource}</td>
                <td>{x.taskType}</td>
                <td title={time(x.nextDueAt)}>{ago(x.nextDueAt)}</td>
                <td>{ago(x.lastRunAt)}</td>
                <td>{x.consecutiveFailures}</td>
                <td>{x.pausedReason ?? 'no'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}
