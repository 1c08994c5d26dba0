import { useApi } from '../swr.ts';
import { Link } from 'wouter';
import type { components } from '@psc/api-client';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, num, rate, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ErrorBox, Freshness, Section, Status, useFreshness } from '../ui.tsx';
import { usePlatformNames } from '../filters.tsx';

type Breaker = components['schemas']['BreakerList']['items'][number];
type DeadLetter = components['schemas']['DeadLetterPage']['items'][number];

/** Dead letters the overview reads to say which platforms they come from. */
const DEAD_SAMPLE = 100;

/** The views whose latest answers the overview's freshness line is as old as. */
const VIEWS = ['pipeline', 'workers', 'breakers', 'scheduler', 'configs', 'collectors', 'dlq'];

/** A platform's breakers that are not closed: on which services, since the earliest change. */
function openByPlatform(items: Breaker[]) {
  const found = new Map<string, { services: Set<string>; states: Set<string>; since: string }>();
  for (const b of items) {
    if (b.state === 'closed') continue;
    const seen = found.get(b.platformId);
    if (!seen) {
      found.set(b.platformId, {
        services: new Set([b.service]),
        states: new Set([b.state]),
        since: b.changedAt,
      });
      continue;
    }
    seen.services.add(b.service);
    seen.states.add(b.state);
    if (b.changedAt < seen.since) seen.since = b.changedAt;
  }
  return [...found].sort(([, a], [, b]) => a.since.localeCompare(b.since));
}

/** The platforms of `dead` (newest first), by count, with the newest death of each. */
function deadByPlatform(dead: DeadLetter[]) {
  const found = new Map<string, { count: number; newest: string }>();
  for (const d of dead) {
    const key = d.platformId ?? '';
    const seen = found.get(key);
    if (seen) seen.count += 1;
    else found.set(key, { count: 1, newest: d.deadAt });
  }
  return [...found].sort(([, a], [, b]) => b.count - a.count);
}

export function Overview() {
  const { client } = useSession();
  const { mark, at } = useFreshness(VIEWS);
  const live = (name: string) => ({ refreshInterval: LIVE_MS, onSuccess: mark(name) });
  const names = usePlatformNames();
  const nameOf = (id: string) => names.get(id) ?? id.slice(0, 8);
  const pipeline = useApi(
    'pipeline',
    () => unwrap(client.GET('/api/v1/monitoring/pipeline')),
    live('pipeline'),
  );
  const workers = useApi(
    'workers',
    () => unwrap(client.GET('/api/v1/monitoring/workers')),
    live('workers'),
  );
  const breakers = useApi(
    'breakers',
    () => unwrap(client.GET('/api/v1/monitoring/breakers')),
    live('breakers'),
  );
  const scheduler = useApi(
    'scheduler',
    () => unwrap(client.GET('/api/v1/scheduler')),
    live('scheduler'),
  );
  const configs = useApi(
    'task-configs',
    () => unwrap(client.GET('/api/v1/scheduler/config')),
    live('configs'),
  );
  const collectors = useApi(
    'collectors',
    () => unwrap(client.GET('/api/v1/collectors')),
    live('collectors'),
  );
  const dead = useApi(
    'dlq-newest',
    () => unwrap(client.GET('/api/v1/dlq', { params: { query: { limit: DEAD_SAMPLE } } })),
    live('dlq'),
  );
  const open = openByPlatform(breakers.data?.items ?? []);
  const unanswered = breakers.data?.unavailable ?? [];
  const pausedTasks = (configs.data?.items ?? []).filter((c) => c.pausedReason);
  const stopped = (collectors.data?.items ?? []).filter((c) => c.enabled === false);
  const deadPlatforms = deadByPlatform(dead.data?.items ?? []);
  const p = pipeline.data;
  const s = scheduler.data;
  const deadCount = s?.counts.deadLetters;
  const dlqSize = deadCount ? `${num(deadCount.count)}${deadCount.atLeast ? '+' : ''}` : '…';
  const error =
    pipeline.error ??
    scheduler.error ??
    breakers.error ??
    workers.error ??
    dead.error ??
    configs.error ??
    collectors.error;

  return (
    <>
      <h1>Overview</h1>
      <Freshness at={at} />
      <ErrorBox error={error} />
      <div className="cards">
        <div className="card" aria-label="Pipeline">
          <h3>Pipeline</h3>
          <Status value={p?.status} />
          <ul className="reasons">
            {(p?.reasons ?? []).map((r) => (
              <li key={r}>{r}</li>
            ))}
          </ul>
        </div>
        <div className="card" aria-label="Scheduler state">
          <h3>Scheduler</h3>
          <Status value={s?.state} />
          {s && s.state !== 'running' ? (
            <span className="muted" title={time(s.changedAt)}>
              {' '}
              since {ago(s.changedAt)}
            </span>
          ) : null}
          {s?.reason ? <p className="reason">{s.reason}</p> : null}
          {pausedTasks.length ? (
            <ul className="attention" aria-label="Paused task types">
              {pausedTasks.map((c) => (
                <li key={c.taskType}>
                  <Status value="paused" /> every {c.taskType} schedule:{' '}
                  <span className="reason">{c.pausedReason}</span>
                </li>
              ))}
            </ul>
          ) : null}
          <p className="muted">
            leader {s?.leader?.id ?? 'none'} · tick {ago(s?.lastTickAt)} ·{' '}
            <Link href="/scheduler">
              {s?.state === 'running' && !pausedTasks.length
                ? 'Open the scheduler'
                : 'Resume on the scheduler page'}
            </Link>
          </p>
        </div>
        <div className="card" aria-label="Dead letters">
          <h3>Dead letters</h3>
          <p className="big" data-testid="dlq-size">
            {dlqSize}
          </p>
          {deadPlatforms.length ? (
            <ul aria-label="Dead letters by platform">
              {deadPlatforms.map(([id, d]) => (
                <li key={id}>
                  {id ? <Link href={`/dlq?platformId=${id}`}>{nameOf(id)}</Link> : 'no platform'}{' '}
                  {num(d.count)}
                  {dead.data?.nextCursor ? '+' : ''}, last{' '}
                  <span title={time(d.newest)}>{ago(d.newest)}</span>
                </li>
              ))}
            </ul>
          ) : null}
        </div>
        <div className="card" aria-label="Open breakers">
          <h3>Open breakers</h3>
          <p className="big">{breakers.data ? open.length : '…'}</p>
          <ul>
            {open.map(([id, b]) => (
              <li key={id} data-platform={id}>
                <Link href={`/platforms/${id}`}>{nameOf(id)}</Link> {[...b.states].join('/')} on{' '}
                {[...b.services].join(', ')} since <span title={time(b.since)}>{ago(b.since)}</span>
              </li>
            ))}
          </ul>
          {unanswered.length ? (
            <p className="error">
              {unanswered.join(', ')} did not answer: {unanswered.length === 1 ? 'its' : 'their'}{' '}
              breakers are not counted.
            </p>
          ) : null}
        </div>
        <div className="card" aria-label="Collectors">
          <h3>Collectors</h3>
          <p className="big">{collectors.data ? stopped.length : '…'}</p>
          <p className="muted">
            stopped of {collectors.data?.items.length ?? '…'}
            {stopped.length ? (
              <>
                {' · '}
                <Link href="/collectors?state=stopped">Show the stopped</Link>
              </>
            ) : null}
          </p>
        </div>
      </div>
      <Section title="Jobs">
        <table aria-label="Job counts">
          <tbody>
            <tr>
              <th scope="row">Now</th>
              {Object.entries(s?.counts.jobs ?? {}).map(([status, count]) => (
                <td key={status}>
                  <Link href={`/jobs?status=${status}`} aria-label={`${status} jobs: ${count}`}>
                    <Status value={status} /> {num(count)}
                  </Link>
                </td>
              ))}
            </tr>
            <tr>
              <th scope="row">Finished in the last hour</th>
              {Object.entries(s?.counts.finishedLastHour ?? {}).map(([status, count]) => (
                <td key={status}>
                  <Link
                    href={`/jobs?status=${status}&since=60`}
                    aria-label={`${status} in the last hour: ${count}`}
                  >
                    <Status value={status} /> {num(count)}
                  </Link>
                </td>
              ))}
            </tr>
          </tbody>
        </table>
      </Section>
      <Section title="Queues">
        <table>
          <thead>
            <tr>
              <th>Queue</th>
              <th>Ready</th>
              <th>Unacked</th>
              <th>Consumers</th>
              <th>In</th>
              <th>Out</th>
              <th>Dead-lettered</th>
            </tr>
          </thead>
          <tbody>
            {(p?.queues ?? []).map((q) => (
              <tr key={q.name}>
                <td>{q.name}</td>
                <td>{num(q.ready)}</td>
                <td>{num(q.unacked)}</td>
                <td>{q.consumers}</td>
                <td>{rate(q.publishRate)}</td>
                <td>{rate(q.deliverRate)}</td>
                <td>{num(q.deadLetter)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
      <Section title="Workers">
        <table>
          <thead>
            <tr>
              <th>Worker</th>
              <th>Service</th>
              <th>Heartbeat</th>
              <th>Current jobs</th>
              <th>Succeeded</th>
              <th>Failed</th>
              <th>Open breakers</th>
            </tr>
          </thead>
          <tbody>
            {(workers.data?.items ?? []).map((w) => (
              <tr key={w.workerId}>
                <td>{w.workerId}</td>
                <td>{w.service}</td>
                <td>{ago(w.lastSeenAt)}</td>
                <td>{w.currentJobs.length}</td>
                <td>{w.processed.succeeded}</td>
                <td>{w.processed.failed}</td>
                <td>{w.openBreakers.length}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </Section>
    </>
  );
}
