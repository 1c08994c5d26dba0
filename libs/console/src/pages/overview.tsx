import { useApi } from '../swr.ts';
import { Link } from 'wouter';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, num, rate } from '../format.ts';
import { unwrap } from '../session.ts';
import { ErrorBox, Section, Status } from '../ui.tsx';

export function Overview() {
  const { client } = useSession();
  const live = { refreshInterval: LIVE_MS };
  const pipeline = useApi(
    'pipeline',
    () => unwrap(client.GET('/api/v1/monitoring/pipeline')),
    live,
  );
  const workers = useApi('workers', () => unwrap(client.GET('/api/v1/monitoring/workers')), live);
  const breakers = useApi(
    'breakers',
    () => unwrap(client.GET('/api/v1/monitoring/breakers')),
    live,
  );
  const scheduler = useApi('scheduler', () => unwrap(client.GET('/api/v1/scheduler')), live);
  const openBreakers = (breakers.data?.items ?? []).filter((b) => b.state !== 'closed');
  const p = pipeline.data;
  const s = scheduler.data;
  const dead = s?.counts.deadLetters;
  const dlqSize = dead ? `${num(dead.count)}${dead.atLeast ? '+' : ''}` : '…';

  return (
    <>
      <h1>Overview</h1>
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
          {s?.reason ? <p className="reason">{s.reason}</p> : null}
          <p className="muted">
            leader {s?.leader?.id ?? 'none'} · tick {ago(s?.lastTickAt)}
          </p>
        </div>
        <div className="card" aria-label="Dead letters">
          <h3>Dead letters</h3>
          <p className="big" data-testid="dlq-size">
            {dlqSize}
          </p>
        </div>
        <div className="card" aria-label="Open breakers">
          <h3>Open breakers</h3>
          <p className="big">{openBreakers.length}</p>
          <ul>
            {openBreakers.map((b) => (
              <li key={`${b.platformId}-${b.workerId}`}>
                <Link href={`/platforms/${b.platformId}`}>{b.platformId.slice(0, 8)}</Link> on{' '}
                {b.service} ({b.state})
              </li>
            ))}
          </ul>
        </div>
      </div>
      <ErrorBox error={pipeline.error ?? scheduler.error} />
      <Section title="Jobs">
        <table aria-label="Job counts">
          <tbody>
            <tr>
              <th scope="row">Now</th>
              {Object.entries(s?.counts.jobs ?? {}).map(([status, count]) => (
                <td key={status}>
                  <Status value={status} /> {num(count)}
                </td>
              ))}
            </tr>
            <tr>
              <th scope="row">Finished in the last hour</th>
              {Object.entries(s?.counts.finishedLastHour ?? {}).map(([status, count]) => (
                <td key={status}>
                  <Status value={status} /> {num(count)}
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
