import { useApi } from '../swr.ts';
import { useSession } from '../context.ts';
import { fieldsText } from '@psc/api-client';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { downloadExport } from '../download.ts';
import { Pager, rangeSummary, useCursors } from '../pager.tsx';
import { ActionButton, ErrorBox } from '../ui.tsx';

/** Documents per page: each is a platform's raw item, often a large one. */
const PAGE = 25;

/** A document's fields as `key=value`s; anything but an object as its JSON. */
const readable = (data: unknown): string =>
  data !== null && typeof data === 'object' && !Array.isArray(data)
    ? fieldsText(data as Record<string, unknown>)
    : JSON.stringify(data);

/**
 * A collection's documents in the order it stored them, a page at a time with the API's cursor,
 * each with its provenance and its fields; read again when the collection's count moves.
 */
export function CollectionDocuments({ jobId, total }: { jobId: string; total: number }) {
  const { client, apiKey } = useSession();
  const paging = useCursors(jobId);
  const { cursor } = paging;
  const { data, error } = useApi(
    ['collection-documents', jobId, cursor, total],
    () =>
      unwrap(
        client.GET('/api/v1/collections/{jobId}/documents', {
          params: { path: { jobId }, query: { limit: PAGE, ...(cursor ? { cursor } : {}) } },
        }),
      ),
    { keepPreviousData: true },
  );
  const items = data?.items ?? [];
  return (
    <section aria-label="Documents">
      <h3>Documents</h3>
      <div className="inline-form">
        <ActionButton
          label="Download JSONL"
          action={() =>
            downloadExport(
              apiKey,
              `/api/v1/collections/${encodeURIComponent(jobId)}/documents/export?format=jsonl`,
              `collection-${jobId}.jsonl`,
            )
          }
        />
        <span className="muted">every document with its provenance, one JSON object a line</span>
      </div>
      <ErrorBox error={error} />
      {data && total === 0 && !cursor ? <p className="muted">No documents yet.</p> : null}
      {items.length ? (
        <table aria-label="Documents">
          <thead>
            <tr>
              <th>Id</th>
              <th>Child</th>
              <th>Fetched</th>
              <th>From</th>
              <th>Fields</th>
            </tr>
          </thead>
          <tbody>
            {items.map((d) => (
              <tr key={d.id} data-id={d.id}>
                <td>{d.id}</td>
                <td>{d.childIndex ?? '—'}</td>
                <td title={time(d.fetchedAt)}>{ago(d.fetchedAt)}</td>
                <td>
                  <code className="clip" title={d.url}>
                    {d.url}
                  </code>
                </td>
                <td className="fields">
                  <code>{readable(d.data)}</code>
                  <details>
                    <summary>JSON</summary>
                    <pre>{JSON.stringify(d.data, null, 2)}</pre>
                  </details>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
      <Pager
        paging={paging}
        nextCursor={data?.nextCursor}
        labels={['Previous', 'Next']}
        summary={rangeSummary(paging, PAGE, items.length, total)}
      />
    </section>
  );
}
