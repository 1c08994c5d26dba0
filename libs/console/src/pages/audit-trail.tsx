import { useState, type FormEvent, type ReactNode } from 'react';
import { Link, useSearchParams } from 'wouter';
import type { components } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { LIVE_MS, useSession } from '../context.ts';
import { fieldsText } from '@psc/api-client';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { Pager, pageSummary, useCursors } from '../pager.tsx';
import { ErrorBox, Section } from '../ui.tsx';
import { useApiKeys } from './access-keys.tsx';
import { usePlatformNames } from '../filters.tsx';

type Entry = components['schemas']['AuditPage']['items'][number];

/** Entries per page; "Older" pages back with the API's cursor. */
const PAGE = 50;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

const short = (id: string) => (UUID.test(id) ? id.slice(0, 8) : id);
/** The name an entry's details give its target (a key's or platform's, when it was made). */
const named = (entry: Entry) =>
  typeof entry.details.name === 'string' ? entry.details.name : undefined;

/** What an entry changed, linked to its page where the console has one. */
function Target(props: {
  entry: Entry;
  platforms: Map<string, string>;
  keys: Map<string, string>;
  self: string;
}) {
  const { entry, platforms, keys } = props;
  const id = entry.targetId;
  let shown: ReactNode = id ? <code title={id}>{short(id)}</code> : '—';
  switch (entry.targetType) {
    case 'platform': {
      // By its id; collector actions audited before 2026-12-07 name the platform by its name.
      const byName = [...platforms].find(([, name]) => name === id)?.[0];
      const platformId = UUID.test(id) ? id : byName;
      if (platformId) {
        shown = (
          <Link href={`/platforms/${platformId}`}>
            {platforms.get(platformId) ?? named(entry) ?? short(id)}
          </Link>
        );
      }
      break;
    }
    case 'job':
      shown =
        id === '*' ? (
          'every dead job matching the filter'
        ) : (
          <Link href={`/jobs/${id}`}>{short(id)}</Link>
        );
      break;
    case 'webhook':
      shown = <Link href="/webhooks">{short(id)}</Link>;
      break;
    case 'backfill':
      shown = <Link href="/backfills">{short(id)}</Link>;
      break;
    case 'scheduler':
    case 'task-type':
      shown = <Link href="/scheduler">{id}</Link>;
      break;
    case 'api-key': {
      // A revoked key is no longer listed; its entries name it.
      const name = keys.get(id) ?? named(entry);
      if (name) shown = <span title={id}>{name}</span>;
      if (id === props.self) shown = <>{shown} (you)</>;
      break;
    }
  }
  return (
    <>
      <span className="muted">{entry.targetType}</span> {shown}
    </>
  );
}

/** Why (the reason given), which filter a bulk action took, and the other facts, as text. */
function Details({ entry }: { entry: Entry }) {
  const { reason, filter, ...rest } = entry.details;
  // Route params that repeat the action or the target, and a key's name (the target shows
  // it), say nothing new.
  const facts = Object.fromEntries(
    Object.entries(rest).filter(
      ([k, v]) =>
        k !== 'action' && v !== entry.targetId && !(k === 'name' && entry.targetType === 'api-key'),
    ),
  );
  return (
    <>
      {typeof reason === 'string' ? <div className="reason">“{reason}”</div> : null}
      {filter && typeof filter === 'object' ? (
        <div>
          filter: <code>{fieldsText(filter as Record<string, unknown>) || 'every dead job'}</code>
        </div>
      ) : null}
      {Object.keys(facts).length ? <code>{fieldsText(facts)}</code> : null}
    </>
  );
}

/** The trail's filters, as the URL and the API name them. */
const FILTERS = ['targetId', 'action', 'actorKeyId'] as const;
type Filter = Record<(typeof FILTERS)[number], string>;

/**
 * Who (which key) changed what, newest first. The filters (target, action or its first parts,
 * key) live in the URL (`?targetId=…&action=…&actorKeyId=…`), so a view can be shared and
 * survives a reload; "Older" and "Newer" page with the API's cursor.
 */
export function AuditTrail() {
  const { client, keyId } = useSession();
  const [params, setParams] = useSearchParams();
  const applied: Filter = {
    targetId: params.get('targetId') ?? '',
    action: params.get('action') ?? '',
    actorKeyId: params.get('actorKeyId') ?? '',
  };
  const { targetId } = applied;
  const filterKey = JSON.stringify(applied);
  // The boxes follow the URL (a "history" link, Back) but filter only when submitted: a target
  // id is matched whole, so a half-typed one would match nothing.
  const [draft, setDraft] = useState(applied);
  const [draftFor, setDraftFor] = useState(filterKey);
  if (draftFor !== filterKey) {
    setDraftFor(filterKey);
    setDraft(applied);
  }
  const edit = (name: keyof Filter, value: string) => setDraft({ ...draft, [name]: value });
  const paging = useCursors(filterKey);
  const { cursor } = paging;

  const keys = useApiKeys();
  const names = new Map((keys.data ?? []).map((k) => [k.id, k.name]));
  const platformNames = usePlatformNames();

  const { data, error } = useApi(
    ['audit', filterKey, cursor],
    async () => {
      const query = {
        limit: PAGE,
        ...Object.fromEntries(FILTERS.filter((f) => applied[f]).map((f) => [f, applied[f]])),
        ...(cursor ? { cursor } : {}),
      };
      const page = await unwrap(client.GET('/api/v1/audit', { params: { query } }));
      return { filterKey, ...page };
    },
    { refreshInterval: cursor ? 0 : LIVE_MS, keepPreviousData: true },
  );
  const current = data?.filterKey === filterKey ? data : undefined;
  const filtered = FILTERS.some((f) => applied[f]);

  function filter(event: FormEvent) {
    event.preventDefault();
    const next: Record<string, string> = {};
    for (const f of FILTERS) if (draft[f].trim()) next[f] = draft[f].trim();
    setParams(Object.keys(next).length ? next : '', { replace: true });
  }

  // A revoked key is no longer listed: an entry about it on this page may still name it.
  const named = new Map(
    (current?.items ?? []).flatMap((e) =>
      e.targetType === 'api-key' && typeof e.details.name === 'string'
        ? [[e.targetId, e.details.name] as const]
        : [],
    ),
  );
  const actor = (id: string) => (
    <>
      {names.get(id) ??
        (named.has(id) && keys.data ? (
          <span title={id}>{named.get(id)} (revoked)</span>
        ) : (
          <code title={id}>{id.slice(0, 8)}</code>
        ))}
      {id === keyId ? ' (you)' : null}
    </>
  );

  return (
    <Section title="Audit trail">
      <form className="inline-form" aria-label="Audit filters" onSubmit={filter}>
        <input
          aria-label="Target id"
          placeholder="Target id (platform, job, key… or scheduler)"
          size={40}
          maxLength={100}
          value={draft.targetId}
          onChange={(e) => edit('targetId', e.target.value)}
        />
        <input
          aria-label="Action"
          placeholder="Action (dlq, platform.created…)"
          list="audit-actions"
          maxLength={100}
          pattern="[a-z0-9\-]+(\.[a-z0-9\-]+)*"
          title="An action, or its first parts: dlq matches dlq.replay and dlq.delete"
          value={draft.action}
          onChange={(e) => edit('action', e.target.value)}
        />
        <datalist id="audit-actions">
          {[...new Set((current?.items ?? []).map((e) => e.action))].sort().map((a) => (
            <option key={a} value={a} />
          ))}
        </datalist>
        <select
          aria-label="By key"
          value={draft.actorKeyId}
          onChange={(e) => edit('actorKeyId', e.target.value)}
        >
          <option value="">any key</option>
          {draft.actorKeyId && !names.has(draft.actorKeyId) ? (
            <option value={draft.actorKeyId}>{short(draft.actorKeyId)}</option>
          ) : null}
          {(keys.data ?? []).map((k) => (
            <option key={k.id} value={k.id}>
              {k.name}
              {k.id === keyId ? ' (you)' : ''}
            </option>
          ))}
        </select>
        <button type="submit">Filter</button>
        <button
          type="button"
          disabled={!filtered && !FILTERS.some((f) => draft[f])}
          onClick={() => {
            setDraft({ targetId: '', action: '', actorKeyId: '' });
            setParams('', { replace: true });
          }}
        >
          Clear filters
        </button>
      </form>
      <ErrorBox error={error} />
      {!current ? (
        error ? null : (
          <p className="loading">Loading…</p>
        )
      ) : current.items.length === 0 ? (
        <p className="muted">
          {filtered ? 'No entries match these filters.' : 'Nobody has changed anything yet.'}
        </p>
      ) : (
        <table aria-label="Audit entries">
          <thead>
            <tr>
              <th>When</th>
              <th>Action</th>
              <th>Target</th>
              <th>By</th>
              <th>Details</th>
            </tr>
          </thead>
          <tbody>
            {current.items.map((e) => (
              <tr key={e.id} data-id={e.id} data-action={e.action} data-target={e.targetId}>
                <td className="nowrap" title={ago(e.at)}>
                  {time(e.at)}
                </td>
                <td>
                  <code>{e.action}</code>
                </td>
                <td>
                  <Target entry={e} platforms={platformNames} keys={names} self={keyId} />
                  {e.targetId && e.targetId !== targetId ? (
                    <>
                      {' · '}
                      <Link
                        href={`/access?targetId=${encodeURIComponent(e.targetId)}`}
                        className="muted"
                        title="Every entry about this target"
                      >
                        history
                      </Link>
                    </>
                  ) : null}
                </td>
                <td>{actor(e.actorKeyId)}</td>
                <td className="fields">
                  <Details entry={e} />
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {current ? (
        <Pager
          always
          paging={paging}
          nextCursor={current.nextCursor}
          summary={pageSummary(current.items.length, ['entry', 'entries'], paging)}
        />
      ) : null}
    </Section>
  );
}
