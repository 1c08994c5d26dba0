import { useState } from 'react';
import { Link } from 'wouter';
import type { ApiClient, components } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ActionButton, Can, ErrorBox, Status } from '../ui.tsx';
import { childrenText } from './collect-collection.tsx';
import { pathOf, RunOnce } from './collect-run-once.tsx';
import { PlatformSelect, useUrlFilters } from '../filters.tsx';

type Collector = components['schemas']['CollectorStatus'];
type Schedule = components['schemas']['Schedule'];

/** Next due times move only when a run is made: read less often than the live list. */
const SCHEDULES_MS = 5000;

const STATES = ['enabled', 'stopped'] as const;
const stateOf = (c: Collector) =>
  c.enabled === null ? 'unknown' : c.enabled ? 'enabled' : 'stopped';

/**
 * The collect schedules (of one platform, or all), by `<platformId>/<resource>`: every page, as
 * each holds only collectors' schedules (one per scheduled collector of the whole list).
 */
async function collectSchedules(
  client: ApiClient,
  platformId: string,
): Promise<Map<string, Schedule>> {
  const found = new Map<string, Schedule>();
  let cursor: string | undefined;
  do {
    const query = {
      taskType: 'collect' as const,
      limit: 500,
      ...(platformId ? { platformId } : {}),
      ...(cursor ? { cursor } : {}),
    };
    const answer = await unwrap(client.GET('/api/v1/schedules', { params: { query } }));
    for (const s of answer.items) found.set(`${s.platformId}/${s.resource}`, s);
    cursor = answer.nextCursor ?? undefined;
  } while (cursor);
  return found;
}

/** Why and when a stopped collector was stopped, as the API says (who: the audit trail). */
function StopNote({ collector }: { collector: Collector }) {
  const reason = collector.stoppedReason;
  return (
    <div className="muted" data-stop-reason={reason ?? ''}>
      {reason ? <span className="reason">“{reason}”</span> : 'no reason given'}
      {collector.stoppedAt ? (
        <>
          {' · '}
          <span title={time(collector.stoppedAt)}>{ago(collector.stoppedAt)}</span>
        </>
      ) : null}
    </div>
  );
}

function NextRun({ collector, schedule }: { collector: Collector; schedule?: Schedule | null }) {
  if (collector.enabled === false) return <span className="muted">none while stopped</span>;
  if (schedule === undefined) return <span className="muted">…</span>;
  if (schedule === null) return <span className="muted">not scheduled (runs on demand)</span>;
  if (schedule.pausedReason) {
    return (
      <span>
        <Status value="paused" /> <span className="reason">{schedule.pausedReason}</span>
      </span>
    );
  }
  return (
    <>
      <time dateTime={schedule.nextDueAt} title={time(schedule.nextDueAt)}>
        {ago(schedule.nextDueAt)}
      </time>
      {schedule.consecutiveFailures ? (
        <div className="muted">{schedule.consecutiveFailures} failed in a row</div>
      ) : null}
    </>
  );
}

function LastRun({ run }: { run: Collector['lastRun'] }) {
  if (!run) return <span className="muted">never collected</span>;
  const at = run.finishedAt ?? run.startedAt;
  return (
    <>
      <Link href={`/jobs/${run.jobId}`}>{run.jobId.slice(0, 8)}</Link> <Status value={run.status} />
      <div className="muted">
        {run.documents} document{run.documents === 1 ? '' : 's'}
        {run.children ? ` · children ${childrenText(run.children)}` : ''}
        {at ? (
          <>
            {' · '}
            <span title={time(at)}>{ago(at)}</span>
          </>
        ) : null}
      </div>
    </>
  );
}

/**
 * Every collect resource of every platform: whether its schedule runs or is stopped (and, for
 * admins, why and by whom), its next scheduled run, the collections running now and its last one.
 * Operators stop (with a reason), start and run one once. The list is whole (the API does not
 * page it); its filters narrow it here and live in the URL (`?platformId=…&state=stopped`).
 */
export function Collectors() {
  const { client } = useSession();
  const { params, set } = useUrlFilters();
  const platformId = params.get('platformId') ?? '';
  const stateFilter = params.get('state') ?? '';
  const [started, setStarted] = useState<{ jobId: string; name: string } | null>(null);

  const list = useApi('collectors', () => unwrap(client.GET('/api/v1/collectors')), {
    refreshInterval: LIVE_MS,
  });
  const schedules = useApi(
    ['collect-schedules', platformId],
    () => collectSchedules(client, platformId),
    { refreshInterval: SCHEDULES_MS },
  );
  const all = list.data?.items ?? [];
  const refresh = () => {
    void list.mutate();
    void schedules.mutate();
  };

  const platforms = new Map(all.map((c) => [c.platformId, pathOf(c.name).platform]));
  const shown = all.filter(
    (c) =>
      (!platformId || c.platformId === platformId) && (!stateFilter || stateOf(c) === stateFilter),
  );
  const control = (c: Collector, action: 'start' | 'stop') => (reason: string) =>
    unwrap(
      client.POST(`/api/v1/collectors/{platform}/{resource}/${action}` as const, {
        params: { path: pathOf(c.name) },
        body: reason ? { reason } : {},
      }),
    );

  return (
    <>
      <h1>Collectors</h1>
      <p className="muted">
        Each platform’s collect resources. A stopped collector gets no scheduled runs (its queued
        ones are cancelled); Run once and the collections API still run it.
      </p>
      <div className="inline-form" aria-label="Filters">
        <PlatformSelect
          value={platformId}
          names={platforms}
          onChange={(id) => set('platformId', id)}
        />
        <select
          aria-label="State"
          value={stateFilter}
          onChange={(e) => set('state', e.target.value)}
        >
          <option value="">any state</option>
          {STATES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </div>
      {started ? (
        <p role="status">
          Collection <Link href={`/jobs/${started.jobId}`}>{started.jobId.slice(0, 8)}</Link> of{' '}
          {started.name} started
        </p>
      ) : null}
      <ErrorBox error={list.error ?? schedules.error} />
      {list.data && shown.length === 0 ? (
        <p className="muted">
          {all.length
            ? 'No collector matches these filters.'
            : 'No collectors yet: a platform resource with the collect task is one.'}
        </p>
      ) : null}
      {shown.length ? (
        <table aria-label="Collectors">
          <thead>
            <tr>
              <th>Platform</th>
              <th>Resource</th>
              <th>Params</th>
              <th>Fan-out</th>
              <th>Schedule</th>
              <th>Next run</th>
              <th>Collecting</th>
              <th>Last collection</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {shown.map((c) => {
              const schedule = schedules.data
                ? (schedules.data.get(`${c.platformId}/${c.resource}`) ?? null)
                : undefined;
              return (
                <tr key={c.name} data-name={c.name} data-state={stateOf(c)}>
                  <td>
                    <Link href={`/platforms/${c.platformId}`}>{pathOf(c.name).platform}</Link>
                  </td>
                  <td>{c.resource}</td>
                  <td>{c.params.length ? <code>{c.params.join(', ')}</code> : '—'}</td>
                  <td>{c.fanOut ? 'yes' : 'no'}</td>
                  <td>
                    <Status value={stateOf(c)} />
                    {c.enabled === null ? (
                      <div className="muted">the scheduler does not answer</div>
                    ) : null}
                    {c.enabled === false ? <StopNote collector={c} /> : null}
                  </td>
                  <td>
                    <NextRun collector={c} schedule={schedule} />
                  </td>
                  <td>{c.running ? `${c.running} running` : '—'}</td>
                  <td>
                    <LastRun run={c.lastRun} />
                  </td>
                  <td>
                    <Can role="operator">
                      <div className="row-actions">
                        {c.enabled !== false ? (
                          <ActionButton
                            label="Stop"
                            danger
                            reason
                            confirm={`Stop ${c.name}? It gets no scheduled runs and its queued ones are cancelled; Run once still runs it.`}
                            action={control(c, 'stop')}
                            onDone={refresh}
                          />
                        ) : null}
                        {c.enabled !== true ? (
                          <ActionButton
                            label="Start"
                            action={control(c, 'start')}
                            onDone={refresh}
                          />
                        ) : null}
                        <RunOnce
                          collector={c}
                          onStarted={(jobId) => {
                            setStarted({ jobId, name: c.name });
                            refresh();
                          }}
                        />
                      </div>
                    </Can>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : null}
    </>
  );
}
