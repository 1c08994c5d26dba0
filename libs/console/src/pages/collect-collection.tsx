import { Link } from 'wouter';
import type { components } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { LIVE_MS, useSession } from '../context.ts';
import { num, time } from '../format.ts';
import { ApiError, unwrap } from '../session.ts';
import { Pager, rangeSummary, useCursors } from '../pager.tsx';
import { ErrorBox, LongText, Section, Status } from '../ui.tsx';
import { CollectionDocuments } from './collect-documents.tsx';

type Collection = components['schemas']['Collection'];
type Children = NonNullable<Collection['children']>;

/** Failed children a page shows. */
const FAILURES_PAGE = 50;
const ENDED = new Set<Collection['status']>(['succeeded', 'failed']);

const HEADINGS: Record<string, string> = {
  total: 'Total',
  succeeded: 'Succeeded',
  failed: 'Failed',
  pending: 'Pending (queued or running)',
};

const pendingOf = (c: Children) => c.total - c.succeeded - c.failed;

/** `190 succeeded · 10 failed of 200`: the non-zero counts, and the total. */
export function childrenText(c: Children): string {
  const counts: [string, number][] = [
    ['succeeded', c.succeeded],
    ['failed', c.failed],
    ['pending', pendingOf(c)],
  ];
  const shown = counts.filter(([, n]) => n > 0).map(([state, n]) => `${n} ${state}`);
  return `${shown.join(' · ') || 'none ended'} of ${c.total}`;
}

function ChildCounts({ children }: { children: Children }) {
  const counts: [string, number][] = [
    ['total', children.total],
    ['succeeded', children.succeeded],
    ['failed', children.failed],
    ['pending', pendingOf(children)],
  ];
  return (
    <>
      <progress
        aria-label="Children ended"
        value={children.succeeded + children.failed}
        max={Math.max(children.total, 1)}
      />{' '}
      <span className="muted">{childrenText(children)}</span>
      <table aria-label="Children">
        <thead>
          <tr>
            {counts.map(([state]) => (
              <th key={state}>{HEADINGS[state]}</th>
            ))}
          </tr>
        </thead>
        <tbody>
          <tr>
            {counts.map(([state, n]) => (
              <td key={state} data-state={state}>
                {num(n)}
              </td>
            ))}
          </tr>
        </tbody>
      </table>
    </>
  );
}

/**
 * The children that failed and why, from the collector's record of each child (kept as long as
 * the collection, unlike its log lines), a page at a time by index; read again when the count
 * moves.
 */
function FailedChildren({ collection }: { collection: Collection }) {
  const { client } = useSession();
  const failed = collection.children?.failed ?? 0;
  const { jobId, startedAt } = collection;
  // A replayed run starts again at the first page.
  const paging = useCursors(`${jobId} ${startedAt ?? ''}`);
  const { cursor } = paging;
  const { data, error } = useApi(
    failed ? ['failed-children', jobId, startedAt, failed, cursor] : null,
    () =>
      unwrap(
        client.GET('/api/v1/collections/{jobId}/children', {
          params: {
            path: { jobId },
            query: { status: 'failed', limit: FAILURES_PAGE, ...(cursor ? { cursor } : {}) },
          },
        }),
      ),
    { keepPreviousData: true },
  );
  if (!failed) return null;
  const items = data?.items ?? [];
  const logs = `/logs?level=warn&service=collector&jobId=${jobId}`;
  return (
    <section aria-label="Failed children">
      <h3>Failed children</h3>
      <ErrorBox error={error} />
      {data ? (
        <table aria-label="Failed children">
          <thead>
            <tr>
              <th>Child</th>
              <th>Error</th>
              <th>Failed</th>
              <th>Replica</th>
            </tr>
          </thead>
          <tbody>
            {items.map((c) => (
              <tr key={c.index} data-child={c.index}>
                <td>{c.index}</td>
                <td>
                  <LongText className="error" text={c.error ?? ''} />
                </td>
                <td>{time(c.finishedAt)}</td>
                <td>{c.workerId ?? '—'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        paging={paging}
        nextCursor={data?.nextCursor}
        labels={['Previous', 'Next']}
        summary={rangeSummary(paging, FAILURES_PAGE, items.length, failed)}
      />
      <p className="muted">
        <Link href={logs}>Open in Logs</Link> for every line of this job.
      </p>
    </section>
  );
}

/**
 * A collect job's collection: its status, children by state and documents, the children that
 * failed with their errors, and its documents; live while the job or its collection runs.
 */
export function CollectionView({ jobId, jobLive }: { jobId: string; jobLive: boolean }) {
  const { client } = useSession();
  const { data: c, error } = useApi(
    ['collection', jobId],
    () => unwrap(client.GET('/api/v1/collections/{jobId}', { params: { path: { jobId } } })),
    {
      refreshInterval: (latest?: Collection) =>
        jobLive || (latest !== undefined && !ENDED.has(latest.status)) ? LIVE_MS : 0,
    },
  );
  let body;
  if (error instanceof ApiError && error.status === 404) {
    // A job cancelled while queued never collected: the API says so.
    body = <p className="muted">{error.message}</p>;
  } else if (!c) {
    body = error ? <ErrorBox error={error} /> : <p className="loading">Loading…</p>;
  } else {
    const live = jobLive || !ENDED.has(c.status);
    body = (
      <>
        <ErrorBox error={error} />
        <dl aria-label="Collection status">
          <dt>Status</dt>
          <dd>
            <Status value={c.status} />
          </dd>
          <dt>Documents</dt>
          <dd data-count="documents">{num(c.documents)}</dd>
          <dt>Started · finished</dt>
          <dd>
            {time(c.startedAt)} · {time(c.finishedAt)}
          </dd>
        </dl>
        {c.children ? (
          <ChildCounts children={c.children} />
        ) : (
          <p className="muted">
            {c.status === 'queued'
              ? 'Waiting in the queue: nothing collected yet.'
              : live
                ? 'No children yet.'
                : 'No fan-out children.'}
          </p>
        )}
        <FailedChildren collection={c} />
        <CollectionDocuments jobId={jobId} total={c.documents} />
      </>
    );
  }
  return <Section title="Collection">{body}</Section>;
}
