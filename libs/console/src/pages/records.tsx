import { useState } from 'react';
import { useApi } from '../swr.ts';
import { useSession } from '../context.ts';
import { time } from '../format.ts';
import { unwrap } from '../session.ts';
import { Pager, useCursors } from '../pager.tsx';
import { ActionButton, ErrorBox } from '../ui.tsx';
import { downloadExport } from '../download.ts';

const PAGE = 50;

/** The records of a resource as JSONL or CSV, named after the resource. */
const download = (
  apiKey: string,
  platformId: string,
  resource: string,
  format: 'jsonl' | 'csv',
): Promise<void> =>
  downloadExport(
    apiKey,
    `/api/v1/data/${encodeURIComponent(platformId)}/${encodeURIComponent(resource)}/export?format=${format}`,
    `${resource}.${format}`,
  );

export function Records({ platformId, resources }: { platformId: string; resources: string[] }) {
  const { client, apiKey } = useSession();
  const [resource, setResource] = useState(resources[0] ?? '');
  const [parentKey, setParentKey] = useState('');
  const [includeDeleted, setIncludeDeleted] = useState(false);
  const paging = useCursors(JSON.stringify([resource, parentKey, includeDeleted]));
  const { cursor } = paging;
  const { data, error } = useApi(
    resource ? ['records', platformId, resource, parentKey, includeDeleted, cursor] : null,
    () =>
      unwrap(
        client.GET('/api/v1/data/{platformId}/{resource}', {
          params: {
            path: { platformId, resource },
            query: {
              limit: PAGE,
              ...(cursor ? { cursor } : {}),
              ...(parentKey ? { parentKey } : {}),
              ...(includeDeleted ? { includeDeleted: 'true' } : {}),
            },
          },
        }),
      ),
  );
  return (
    <>
      <div className="inline-form">
        <select
          aria-label="Records of resource"
          value={resource}
          onChange={(e) => setResource(e.target.value)}
        >
          {resources.map((r) => (
            <option key={r}>{r}</option>
          ))}
        </select>
        <input
          aria-label="Parent key"
          placeholder="Parent key"
          value={parentKey}
          onChange={(e) => setParentKey(e.target.value)}
        />
        <label>
          <input
            type="checkbox"
            checked={includeDeleted}
            onChange={(e) => setIncludeDeleted(e.target.checked)}
          />
          deleted too
        </label>
        <ActionButton
          label="Download JSONL"
          action={() => download(apiKey, platformId, resource, 'jsonl')}
        />
        <ActionButton
          label="Download CSV"
          action={() => download(apiKey, platformId, resource, 'csv')}
        />
      </div>
      <ErrorBox error={error} />
      <table aria-label="Records">
        <thead>
          <tr>
            <th>Key</th>
            <th>Updated</th>
            <th>Data</th>
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((r) => (
            <tr key={`${r.parentKey}/${r.key}`} className={r.deletedAt ? 'deleted' : undefined}>
              <td>{r.key}</td>
              <td>{time(r.updatedAt)}</td>
              <td>
                <code className="clip">{JSON.stringify(r.data)}</code>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      <Pager always paging={paging} nextCursor={data?.nextCursor} labels={['Previous', 'Next']} />
    </>
  );
}
