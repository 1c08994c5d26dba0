import { useState, type FormEvent } from 'react';
import { useSWRConfig } from 'swr';
import { useLocation } from 'wouter';
import type { components } from '@psc/api-client';
import { useSession } from '../context.ts';
import { ApiError, unwrap } from '../session.ts';
import { ActionButton, ErrorBox, Section } from '../ui.tsx';

type Platform = components['schemas']['Platform'];
type PlatformReplace = components['schemas']['PlatformReplace'];
type PlatformPage = components['schemas']['PlatformPage'];

const pretty = (platform: Platform): string => JSON.stringify(platform, null, 2);

/** Every change names the version it was decided on: the API refuses it (412) once that is old. */
const ifMatch = (version: number) => ({ 'if-match': `"${version}"` });

const isStale = (err: unknown): err is ApiError => err instanceof ApiError && err.status === 412;

/** The version a 412 says the platform is at now (its details' `currentVersion`). */
function currentVersionOf(err: ApiError): number | null {
  const details = err.details as { currentVersion?: unknown } | null | undefined;
  return typeof details?.currentVersion === 'number' ? details.currentVersion : null;
}

/** The top-level fields `after` has other than `before`, but the bookkeeping ones. */
function changedFields(before: Platform, after: Platform): string[] {
  const ignored = new Set(['version', 'updatedAt']);
  const keys = new Set([...Object.keys(before), ...Object.keys(after)]);
  const a = before as Record<string, unknown>;
  const b = after as Record<string, unknown>;
  return [...keys].filter((k) => !ignored.has(k) && JSON.stringify(a[k]) !== JSON.stringify(b[k]));
}

function parsePlatform(text: string): PlatformReplace {
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    throw new Error(`The platform is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw new Error('The platform must be a JSON object, as the API returns it');
  }
  // The API validates the whole shape and names what is wrong (a 422 with its details).
  return value as PlatformReplace;
}

/**
 * The platform as JSON, saved whole (PUT) against the version it was loaded at. When someone
 * else saved meanwhile the API refuses it (412) and the admin's text stays; loading the current
 * version puts that in the editor and keeps the admin's text beside it, so neither change is lost
 * unseen.
 */
function PlatformEditor(props: {
  platform: Platform;
  onSaved: (updated: Platform) => void;
  onLoaded: (current: Platform) => void;
}) {
  const { client } = useSession();
  const [base, setBase] = useState(props.platform);
  const [text, setText] = useState(() => pretty(props.platform));
  const [seen, setSeen] = useState(props.platform);
  const [conflict, setConflict] = useState<{ now: number | null } | null>(null);
  /** The admin's text from before the current version was loaded, and what had changed. */
  const [kept, setKept] = useState<{ text: string; changed: string[] } | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  // The page refetched a newer version (Activate, say) while nothing was typed: edit that one.
  if (props.platform !== seen) {
    setSeen(props.platform);
    if (text === pretty(base)) {
      setBase(props.platform);
      setText(pretty(props.platform));
      setConflict(null);
    }
  }

  async function save(event: FormEvent) {
    event.preventDefault();
    setError(null);
    setConflict(null);
    let body: PlatformReplace;
    try {
      body = parsePlatform(text);
    } catch (err) {
      setError(err);
      return;
    }
    setBusy(true);
    try {
      const updated = await unwrap(
        client.PUT('/api/v1/platforms/{id}', {
          params: { path: { id: base.id }, header: ifMatch(base.version) },
          body,
        }),
      );
      props.onSaved(updated);
    } catch (err) {
      if (isStale(err)) setConflict({ now: currentVersionOf(err) });
      else setError(err);
    } finally {
      setBusy(false);
    }
  }

  async function loadCurrent() {
    setError(null);
    setBusy(true);
    try {
      const current = await unwrap(
        client.GET('/api/v1/platforms/{id}', { params: { path: { id: base.id } } }),
      );
      setKept({ text, changed: changedFields(base, current) });
      setBase(current);
      setText(pretty(current));
      setConflict(null);
      props.onLoaded(current);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stacked" aria-label="Edit platform" onSubmit={(e) => void save(e)}>
      <label>
        Platform (JSON)
        <textarea
          rows={24}
          spellCheck={false}
          value={text}
          onChange={(e) => setText(e.target.value)}
        />
      </label>
      <p className="hint">
        Saved whole, against version {base.version}. A token left as <code>***</code> keeps the
        stored credential; write a new one to replace it. <code>id</code>, <code>version</code> and
        the timestamps are the API&apos;s own.
      </p>
      {conflict ? (
        <div className="error" role="alert">
          <p>
            Someone else changed this platform after you loaded version {base.version}
            {conflict.now ? ` (it is at version ${conflict.now} now)` : ''}. Nothing was saved.
          </p>
          <p>
            Load the current version and make your change again on it; your text stays here to copy
            from.
          </p>
          <div className="row-actions">
            <button type="button" disabled={busy} onClick={() => void loadCurrent()}>
              Load current version
            </button>
          </div>
        </div>
      ) : null}
      <div className="row-actions">
        <button type="submit" disabled={busy}>
          Save
        </button>
        {text !== pretty(base) ? (
          <button type="button" disabled={busy} onClick={() => setText(pretty(base))}>
            Discard changes
          </button>
        ) : null}
      </div>
      <ErrorBox error={error} />
      {kept ? (
        <label>
          Your text, not saved (
          {kept.changed.length
            ? `changed meanwhile: ${kept.changed.join(', ')}`
            : 'nothing else changed meanwhile'}
          )
          <textarea rows={12} readOnly spellCheck={false} value={kept.text} />
        </label>
      ) : null}
    </form>
  );
}

/**
 * What only an admin may do to a platform: edit it, activate or deactivate it, retire it. Each
 * change carries the version shown, so it never lands on a platform someone changed meanwhile.
 */
export function PlatformAdmin({
  platform: p,
  refresh,
}: {
  platform: Platform;
  /** Refetches the page's platform (and what depends on it); with one, shows it at once. */
  refresh: (latest?: Platform) => Promise<unknown>;
}) {
  const { client } = useSession();
  const { mutate } = useSWRConfig();
  const [, navigate] = useLocation();
  const [editing, setEditing] = useState(false);
  const [saved, setSaved] = useState<number | null>(null);
  const id = p.id;

  /** A change refused as stale refetches the page, and says so in words. */
  async function guarded(change: () => Promise<unknown>): Promise<void> {
    setSaved(null);
    try {
      await change();
    } catch (err) {
      if (!isStale(err)) throw err;
      await refresh();
      throw new Error(
        `${p.name} was changed meanwhile, so nothing was done: the page now shows its current version; check it and try again.`,
        { cause: err },
      );
    }
  }

  const setActive = (active: boolean) =>
    guarded(() =>
      unwrap(
        client.PATCH('/api/v1/platforms/{id}', {
          params: { path: { id }, header: ifMatch(p.version) },
          body: { active },
        }),
      ),
    );

  const retire = () =>
    guarded(() =>
      unwrap(
        client.DELETE('/api/v1/platforms/{id}', {
          params: { path: { id }, header: ifMatch(p.version) },
        }),
      ),
    );

  function retired() {
    // Out of the list's cached page (the Platforms page's key) at once: the list never shows it
    // again while it refetches.
    void mutate<PlatformPage>(
      'platforms',
      (page) => page && { ...page, items: page.items.filter((x) => x.id !== id) },
      { revalidate: false },
    );
    // `retired` names it, for the list to confirm what happened.
    navigate(`/platforms?retired=${encodeURIComponent(p.name)}`);
  }

  return (
    <>
      <div className="actions">
        <button
          type="button"
          onClick={() => {
            setEditing((v) => !v);
            setSaved(null);
          }}
        >
          {editing ? 'Close editor' : 'Edit'}
        </button>
        <ActionButton
          label={p.active ? 'Deactivate' : 'Activate'}
          // Deactivating stops its schedules: asked first. Activating again needs no question.
          confirm={
            p.active
              ? `Deactivate ${p.name}? Its schedules stop until it is activated again.`
              : undefined
          }
          danger={p.active}
          action={() => setActive(!p.active)}
          onDone={() => void refresh()}
        />
        <ActionButton
          label="Retire"
          danger
          confirm={`Retire ${p.name}? Its schedules stop, its queued jobs are cancelled, and this cannot be undone.`}
          action={retire}
          onDone={retired}
        />
      </div>
      {saved !== null ? (
        <p className="ok" role="status">
          Saved: {p.name} is at version {saved}.
        </p>
      ) : null}
      {editing ? (
        <Section title="Edit platform">
          <PlatformEditor
            platform={p}
            onSaved={(updated) => {
              setEditing(false);
              setSaved(updated.version);
              void refresh(updated);
            }}
            onLoaded={(current) => void refresh(current)}
          />
        </Section>
      ) : null}
    </>
  );
}
