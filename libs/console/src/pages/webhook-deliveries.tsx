import { useState } from 'react';
import type { components } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { Pager, useCursors } from '../pager.tsx';
import { ErrorBox, Status } from '../ui.tsx';

type Delivery = components['schemas']['WebhookDelivery'];

const PAGE = 20;
const STATUSES: Delivery['status'][] = ['pending', 'succeeded', 'failed'];

/** A delivery's last attempt as a receiver answered it: `HTTP 204 · 12 ms` or why it failed. */
function lastAttempt(d: Delivery): string {
  const last = d.log.at(-1);
  if (!last) return d.nextAttemptAt ? `first attempt ${ago(d.nextAttemptAt)}` : '—';
  const answer = last.statusCode === null ? 'no answer' : `HTTP ${last.statusCode}`;
  return `${answer} · ${Math.round(last.latencyMs)} ms${last.error ? ` · ${last.error}` : ''}`;
}

/** One subscription's delivery log, newest first, live while open (a test ping shows up here). */
export function WebhookDeliveries({ id }: { id: string }) {
  const { client } = useSession();
  const [status, setStatus] = useState<Delivery['status'] | ''>('');
  const paging = useCursors(status);
  const { cursor } = paging;
  const { data, error } = useApi(
    ['webhook-deliveries', id, status, cursor],
    () =>
      unwrap(
        client.GET('/api/v1/webhooks/{id}/deliveries', {
          params: {
            path: { id },
            query: { limit: PAGE, ...(status ? { status } : {}), ...(cursor ? { cursor } : {}) },
          },
        }),
      ),
    { refreshInterval: LIVE_MS },
  );
  return (
    <section aria-label="Delivery log">
      <div className="inline-form">
        <h3>Deliveries</h3>
        <select
          aria-label="Delivery status"
          value={status}
          onChange={(e) => setStatus(e.target.value as Delivery['status'] | '')}
        >
          <option value="">any status</option>
          {STATUSES.map((s) => (
            <option key={s}>{s}</option>
          ))}
        </select>
      </div>
      <ErrorBox error={error} />
      {data && data.items.length === 0 ? (
        <p className="muted">No deliveries{status ? ` ${status}` : ''} yet.</p>
      ) : null}
      {data?.items.length ? (
        <table aria-label="Deliveries">
          <thead>
            <tr>
              <th>Delivery id</th>
              <th>Event</th>
              <th>Status</th>
              <th>Attempts</th>
              <th>Last attempt</th>
              <th>Created</th>
              <th>Finished · next attempt</th>
            </tr>
          </thead>
          <tbody>
            {data.items.map((d) => (
              <tr key={d.id} data-status={d.status} data-event={d.eventType}>
                <td>
                  <code>{d.id}</code>
                </td>
                <td>{d.eventType}</td>
                <td>
                  <Status value={d.status} />
                </td>
                <td>{d.attempts}</td>
                <td>{lastAttempt(d)}</td>
                <td title={time(d.createdAt)}>{ago(d.createdAt)}</td>
                <td>
                  {d.finishedAt
                    ? time(d.finishedAt)
                    : d.nextAttemptAt
                      ? `next ${ago(d.nextAttemptAt)}`
                      : '—'}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager paging={paging} nextCursor={data?.nextCursor} />
    </section>
  );
}
