import { useContext, useState, type FormEvent } from 'react';
import { useSWRConfig } from 'swr';
import type { ApiClient, components } from '@psc/api-client';
import { useApi } from '../swr.ts';
import { SignOutContext, useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap, type Role } from '../session.ts';
import { ActionButton, ErrorBox, Section } from '../ui.tsx';

type ApiKey = components['schemas']['ApiKey'];
type Created = components['schemas']['ApiKeyCreated'];

const ROLES: Role[] = ['viewer', 'operator', 'admin'];
/** Pages of keys read at most: keys are people and systems, a few dozen. */
const MAX_PAGES = 10;

/** Every live key, newest first (the API pages them by id, 500 at most a page). */
async function allKeys(client: ApiClient): Promise<ApiKey[]> {
  const keys: ApiKey[] = [];
  let cursor: string | undefined;
  for (let page = 0; page < MAX_PAGES; page += 1) {
    const query = { limit: 500, ...(cursor ? { cursor } : {}) };
    const answer = await unwrap(client.GET('/api/v1/api-keys', { params: { query } }));
    keys.push(...answer.items);
    if (!answer.nextCursor) break;
    cursor = answer.nextCursor;
  }
  return keys.sort((a, b) => b.createdAt.localeCompare(a.createdAt));
}

/** The live keys (admins only): the keys table and the audit trail's actor names share them. */
export function useApiKeys() {
  const { client } = useSession();
  return useApi('api-keys', () => allKeys(client));
}

/** Creates a key (admin); the API answers the key itself this once. */
function CreateForm({ onCreated }: { onCreated: (created: Created) => void }) {
  const { client } = useSession();
  const [name, setName] = useState('');
  const [role, setRole] = useState<Role>('viewer');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setBusy(true);
    setError(null);
    try {
      onCreated(
        await unwrap(client.POST('/api/v1/api-keys', { body: { name: name.trim(), role } })),
      );
      setName('');
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="inline-form" aria-label="New API key" onSubmit={(e) => void submit(e)}>
      <input
        aria-label="Name"
        placeholder="Name (who or what uses it)"
        required
        maxLength={100}
        size={32}
        value={name}
        onChange={(e) => setName(e.target.value)}
      />
      <select aria-label="Role" value={role} onChange={(e) => setRole(e.target.value as Role)}>
        {ROLES.map((r) => (
          <option key={r}>{r}</option>
        ))}
      </select>
      <button type="submit" disabled={busy || !name.trim()}>
        Create key
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

/**
 * The key just made. It lives in this component's state only: never in storage, the URL or the
 * SWR cache, so a reload or "I have copied it" forgets it.
 */
function NewKey({ created, onDone }: { created: Created; onDone: () => void }) {
  return (
    <section aria-label="New key" className="card wide secret">
      <h2>Key created: copy it now</h2>
      <p>
        psc shows this key <strong>this once</strong>: it cannot be shown again, as psc keeps only
        its hash. Lost, it means revoking it and creating another.
      </p>
      <input
        aria-label="Key"
        readOnly
        size={60}
        value={created.key}
        onFocus={(e) => e.target.select()}
      />
      <p className="muted">
        {created.name} · {created.role} · prefix <code>{created.prefix}</code>
      </p>
      <button type="button" onClick={onDone}>
        I have copied it
      </button>
    </section>
  );
}

/** What revoking `key` means, said before it is done. */
function revokeQuestion(key: ApiKey, self: boolean, lastAdmin: boolean): string {
  const who = self
    ? 'Revoke your own key? The console signs you out at its next request.'
    : `Revoke “${key.name}”? Everything using it is refused within a second.`;
  const last = lastAdmin
    ? ' It is the last admin key: only a gateway restarted with a new PSC_ADMIN_API_KEY can manage keys afterwards.'
    : '';
  return `${who}${last} This cannot be undone.`;
}

/** The live keys with their role, prefix and use; create and revoke. */
export function ApiKeys() {
  const { client, keyId } = useSession();
  const { mutate: mutateAll } = useSWRConfig();
  const signOut = useContext(SignOutContext);
  const [showForm, setShowForm] = useState(false);
  const [created, setCreated] = useState<Created | null>(null);
  const [outcome, setOutcome] = useState<string | null>(null);
  const { data, error, mutate } = useApiKeys();
  const names = new Map((data ?? []).map((k) => [k.id, k.name]));
  const admins = (data ?? []).filter((k) => k.role === 'admin').length;
  const changed = () => {
    void mutate();
    // Each change is an audit entry: show it without waiting for the trail's next poll.
    void mutateAll((key) => Array.isArray(key) && key[0] === 'audit');
  };

  return (
    <Section title="API keys">
      <button type="button" onClick={() => setShowForm((v) => !v)}>
        {showForm ? 'Close form' : 'New key'}
      </button>
      {showForm ? (
        <CreateForm
          onCreated={(key) => {
            setCreated(key);
            setShowForm(false);
            setOutcome(null);
            changed();
          }}
        />
      ) : null}
      {created ? <NewKey created={created} onDone={() => setCreated(null)} /> : null}
      {outcome ? <p role="status">{outcome}</p> : null}
      <ErrorBox error={error} />
      {data ? (
        <table aria-label="API keys">
          <thead>
            <tr>
              <th>Name</th>
              <th>Role</th>
              <th>Prefix</th>
              <th>Created</th>
              <th>Created by</th>
              <th>Last used</th>
              <th />
            </tr>
          </thead>
          <tbody>
            {data.map((key) => {
              const self = key.id === keyId;
              return (
                <tr key={key.id} data-id={key.id} data-self={self}>
                  <td>
                    {key.name}
                    {self ? <strong> (you)</strong> : null}
                  </td>
                  <td>{key.role}</td>
                  <td>
                    <code>{key.prefix}</code>
                  </td>
                  <td title={time(key.createdAt)}>{ago(key.createdAt)}</td>
                  <td>
                    {key.createdBy ? (
                      (names.get(key.createdBy) ?? (
                        <code title={key.createdBy}>{key.createdBy.slice(0, 8)}</code>
                      ))
                    ) : (
                      <span className="muted">PSC_ADMIN_API_KEY (bootstrap)</span>
                    )}
                  </td>
                  <td title={time(key.lastUsedAt)}>
                    {key.lastUsedAt ? ago(key.lastUsedAt) : 'never'}
                  </td>
                  <td>
                    <div className="row-actions">
                      <ActionButton
                        label="Revoke"
                        danger
                        confirm={revokeQuestion(key, self, key.role === 'admin' && admins === 1)}
                        action={async () => {
                          await unwrap(
                            client.DELETE('/api/v1/api-keys/{id}', {
                              params: { path: { id: key.id } },
                            }),
                          );
                          setOutcome(`Revoked “${key.name}” (${key.prefix}…).`);
                        }}
                        // Your own key revoked: nothing more can be done with it, so sign out.
                        onDone={self ? signOut : changed}
                      />
                    </div>
                  </td>
                </tr>
              );
            })}
          </tbody>
        </table>
      ) : error ? null : (
        <p className="loading">Loading…</p>
      )}
      <p className="hint">
        Last used is updated at most once a minute. A revoked key leaves this list at once; its name
        stays in the audit trail.
      </p>
    </Section>
  );
}
