import { useState, type FormEvent } from 'react';
import { useApi } from '../swr.ts';
import { Link, useLocation, useSearchParams } from 'wouter';
import type { components } from '@psc/api-client';
import { useSession } from '../context.ts';
import { ago, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { Can, ErrorBox, Section, Status } from '../ui.tsx';

type Platform = components['schemas']['Platform'];
type PlatformInput = components['schemas']['PlatformInput'];

const LIST_MS = 5000;

/** One row's live part: sync state, last successful sync, breaker, next fire time. */
function PlatformRow({ platform }: { platform: Platform }) {
  const { client } = useSession();
  const { data } = useApi(
    ['sync-status', platform.id],
    () =>
      unwrap(
        client.GET('/api/v1/platforms/{id}/sync/status', { params: { path: { id: platform.id } } }),
      ),
    { refreshInterval: LIST_MS },
  );
  const breaker = data?.breaker?.find((b) => b.state !== 'closed')?.state ?? 'closed';
  return (
    <tr>
      <td>
        <Link href={`/platforms/${platform.id}`}>{platform.name}</Link>
      </td>
      <td>
        <Status value={platform.active ? (data?.isRunning ? 'running' : 'stopped') : 'inactive'} />
      </td>
      <td>{platform.resources.map((r) => r.name).join(', ')}</td>
      <td title={time(data?.lastUpdate)}>{ago(data?.lastUpdate)}</td>
      <td>
        <Status value={data?.lastJob?.status} />
      </td>
      <td>
        <Status value={data ? breaker : undefined} />
      </td>
      <td title={time(data?.nextFireTimes[0])}>{ago(data?.nextFireTimes[0])}</td>
    </tr>
  );
}

const RESOURCES_EXAMPLE = JSON.stringify(
  [
    {
      name: 'items',
      request: { path: '/items' },
      pagination: { type: 'page', pageParam: 'page', sizeParam: 'size', pageSize: 100 },
      itemsPath: 'data',
      key: 'id',
      mapping: { name: 'name' },
    },
  ],
  null,
  2,
);

/** Registers a platform (admin): the common fields, resources as JSON (the API's own shape). */
function RegisterForm() {
  const { client } = useSession();
  const [, navigate] = useLocation();
  const [name, setName] = useState('');
  const [baseUrl, setBaseUrl] = useState('');
  const [token, setToken] = useState('');
  const [interval, setInterval] = useState('');
  const [resources, setResources] = useState(RESOURCES_EXAMPLE);
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);

  async function submit(event: FormEvent) {
    event.preventDefault();
    setError(null);
    let parsed: PlatformInput['resources'];
    try {
      parsed = JSON.parse(resources) as PlatformInput['resources'];
    } catch {
      setError(new Error('Resources must be a JSON array'));
      return;
    }
    const body: Partial<PlatformInput> = {
      name,
      baseUrl,
      resources: parsed,
      ...(token ? { auth: { type: 'bearer', token } } : {}),
      // Sync is off by default for every task type: an interval given means "sync that often".
      ...(interval
        ? { schedule: { sync: { enabled: true, intervalSeconds: Number(interval) } } }
        : {}),
    };
    setBusy(true);
    try {
      const created = await unwrap(
        client.POST('/api/v1/platforms', {
          // The generated type marks fields with a server-side default as required; the API
          // fills in what the form leaves out.
          body: body as PlatformInput,
        }),
      );
      navigate(`/platforms/${created.id}`);
    } catch (err) {
      setError(err);
    } finally {
      setBusy(false);
    }
  }

  return (
    <form className="stacked" aria-label="Register a platform" onSubmit={(e) => void submit(e)}>
      <label>
        Name
        <input
          name="name"
          required
          pattern="[a-z0-9][a-z0-9_\-]*"
          maxLength={100}
          value={name}
          onChange={(e) => setName(e.target.value)}
        />
      </label>
      <label>
        Base URL
        <input
          name="baseUrl"
          type="url"
          required
          value={baseUrl}
          onChange={(e) => setBaseUrl(e.target.value)}
        />
      </label>
      <label>
        Bearer token (optional, write-only)
        <input
          name="token"
          type="password"
          autoComplete="off"
          value={token}
          onChange={(e) => setToken(e.target.value)}
        />
      </label>
      <label>
        Sync every (seconds, optional: empty, no scheduled sync)
        <input
          name="intervalSeconds"
          type="number"
          min={1}
          value={interval}
          onChange={(e) => setInterval(e.target.value)}
        />
      </label>
      <label>
        Resources (JSON)
        <textarea
          name="resources"
          rows={12}
          spellCheck={false}
          value={resources}
          onChange={(e) => setResources(e.target.value)}
        />
      </label>
      <button type="submit" disabled={busy}>
        Register
      </button>
      <ErrorBox error={error} />
    </form>
  );
}

export function Platforms() {
  const { client } = useSession();
  const [showForm, setShowForm] = useState(false);
  // Set by a platform's page after it retired one (`?retired=<name>`).
  const [params] = useSearchParams();
  const retired = params.get('retired');
  const { data, error } = useApi(
    'platforms',
    () => unwrap(client.GET('/api/v1/platforms', { params: { query: { limit: 100 } } })),
    { refreshInterval: LIST_MS },
  );
  return (
    <>
      <h1>Platforms</h1>
      {retired ? (
        <p role="status">
          {retired} was retired: its schedules stopped and its queued jobs were cancelled.
        </p>
      ) : null}
      <Can role="admin">
        <button type="button" onClick={() => setShowForm((v) => !v)}>
          {showForm ? 'Close form' : 'Register a platform'}
        </button>
        {showForm ? (
          <Section title="Register a platform">
            <RegisterForm />
          </Section>
        ) : null}
      </Can>
      <ErrorBox error={error} />
      <table aria-label="Platforms">
        <thead>
          <tr>
            <th>Name</th>
            <th>Status</th>
            <th>Resources</th>
            <th>Last sync</th>
            <th>Last job</th>
            <th>Breaker</th>
            <th>Next fire</th>
          </tr>
        </thead>
        <tbody>
          {(data?.items ?? []).map((p) => (
            <PlatformRow key={p.id} platform={p} />
          ))}
        </tbody>
      </table>
      {data?.nextCursor ? <p className="muted">Showing the first 100 platforms.</p> : null}
    </>
  );
}
