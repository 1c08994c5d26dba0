import { Fragment, useState } from 'react';
import { Link } from 'wouter';
import { useApi } from '../swr.ts';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { Pager, pageSummary, useCursors } from '../pager.tsx';
import { ActionButton, Can, ErrorBox, Section, Status } from '../ui.tsx';
import { BackfillDetail } from './backfill-detail.tsx';
import { BackfillForm } from './backfill-form.tsx';
import { ProgressCell, rangeText, type Backfill } from './backfill-view.tsx';
import { PlatformSelect, usePlatforms, useUrlFilters } from '../filters.tsx';

/** Backfills per page; "Older" pages back with the API's cursor. */
const PAGE = 50;
/** How often a list with nothing running is read again (as the Platforms page does). */
const LIST_MS = 5000;

/**
 * Backfills, newest first, with their progress per step state: live while one runs. The filter
 * and the backfill opened live in the URL (`?platformId=…&open=…`), so a view can be shared;
 * operators start backfills and cancel running ones.
 */
export function Backfills() {
  const { client } = useSession();
  const { params, set } = useUrlFilters();
  const platformId = params.get('platformId') ?? '';
  const open = params.get('open') ?? '';
  const [showForm, setShowForm] = useState(false);
  const [outcome, setOutcome] = useState<string | null>(null);
  const paging = useCursors(platformId);
  const { cursor } = paging;

  const platforms = usePlatforms();
  const { names } = platforms;
  const { data, error, mutate } = useApi(
    ['backfills', platformId, cursor],
    () =>
      unwrap(
        client.GET('/api/v1/backfills', {
          params: {
            query: {
              limit: PAGE,
              ...(platformId ? { platformId } : {}),
              ...(cursor ? { cursor } : {}),
            },
          },
        }),
      ),
    {
      refreshInterval: (latest?: { items: Backfill[] }) =>
        latest?.items.some((b) => b.status === 'running') ? LIVE_MS : LIST_MS,
    },
  );
  const refresh = () => void mutate();
  const items = data?.items ?? [];
  const openInList = items.some((b) => b.id === open);

  return (
    <>
      <h1>Backfills</h1>
      <Can role="operator">
        <button type="button" onClick={() => setShowForm((v) => !v)}>
          {showForm ? 'Close form' : 'New backfill'}
        </button>
        {showForm ? (
          <Section title="New backfill">
            <BackfillForm
              platforms={platforms.items}
              onCreated={(b) => {
                setShowForm(false);
                setOutcome(
                  `Backfill ${b.id.slice(0, 8)} started: ${b.progress.steps} steps of ` +
                    `${names.get(b.platformId) ?? b.platformId} · ${b.resource}`,
                );
                paging.reset();
                set('open', b.id);
                refresh();
              }}
            />
          </Section>
        ) : null}
      </Can>
      <div className="inline-form" aria-label="Filters">
        <PlatformSelect value={platformId} names={names} onChange={(id) => set('platformId', id)} />
      </div>
      {outcome ? <p role="status">{outcome}</p> : null}
      <ErrorBox error={error || platforms.error} />
      {open && data && !openInList ? (
        <Section title={`Backfill ${open.slice(0, 8)}`}>
          <BackfillDetail id={open} />
          <button type="button" onClick={() => set('open', '')}>
            Hide
          </button>
        </Section>
      ) : null}
      {data && items.length === 0 ? (
        <p className="muted">
          {platformId ? 'No backfills of this platform.' : 'No backfills yet.'} A backfill runs one
          task over a past range, a step at a time.
        </p>
      ) : null}
      {items.length ? (
        <table aria-label="Backfills">
          <thead>
            <tr>
              <th>Platform</th>
              <th>Resource</th>
              <th>Task</th>
              <th>Range</th>
              <th>Step</th>
              <th>Status</th>
              <th>Progress</th>
              <th>At once</th>
              <th>Created</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {items.map((b) => (
              <Fragment key={b.id}>
                <tr data-id={b.id} data-status={b.status}>
                  <td>
                    <Link href={`/platforms/${b.platformId}`}>
                      {names.get(b.platformId) ?? b.platformId.slice(0, 8)}
                    </Link>
                  </td>
                  <td>{b.resource}</td>
                  <td>{b.taskType}</td>
                  <td className="nowrap" title={`${b.from} → ${b.to}`}>
                    {rangeText(b)}
                  </td>
                  <td>
                    {b.step} <span className="muted">{b.timezone}</span>
                  </td>
                  <td>
                    <Status value={b.status} />
                  </td>
                  <td>
                    <ProgressCell backfill={b} />
                  </td>
                  <td>{b.maxConcurrent}</td>
                  <td title={time(b.createdAt)}>{ago(b.createdAt)}</td>
                  <td>
                    <div className="row-actions">
                      <button type="button" onClick={() => set('open', open === b.id ? '' : b.id)}>
                        {open === b.id ? 'Hide' : 'Inspect'}
                      </button>
                      {b.status === 'running' ? (
                        <Can role="operator">
                          <ActionButton
                            label="Cancel backfill"
                            danger
                            confirm="Cancel this backfill? No further step starts, and its queued and running jobs are cancelled."
                            reason="optional"
                            action={(reason) =>
                              unwrap(
                                client.POST('/api/v1/backfills/{id}/cancel', {
                                  params: { path: { id: b.id } },
                                  body: reason ? { reason } : {},
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
                {open === b.id ? (
                  <tr className="detail">
                    <td colSpan={10}>
                      <BackfillDetail id={b.id} platformName={names.get(b.platformId)} />
                    </td>
                  </tr>
                ) : null}
              </Fragment>
            ))}
          </tbody>
        </table>
      ) : null}
      {data ? (
        <Pager
          paging={paging}
          nextCursor={data.nextCursor}
          summary={pageSummary(items.length, ['backfill', 'backfills'], paging)}
        />
      ) : null}
    </>
  );
}
