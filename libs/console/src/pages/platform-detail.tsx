import { useState } from 'react';
import { useSWRConfig } from 'swr';
import { useApi } from '../swr.ts';
import { Link } from 'wouter';
import type { components } from '@psc/api-client';
import { LIVE_MS, useSession } from '../context.ts';
import { ago, FINISHED, time } from '../format.ts';
import { unwrap } from '../session.ts';
import { ActionButton, Can, ErrorBox, PageError, Section, Status } from '../ui.tsx';
import { PlatformAdmin } from './platform-admin.tsx';
import { Records } from './records.tsx';

type Job = components['schemas']['Job'];
type Platform = components['schemas']['Platform'];
type TestResult = components['schemas']['PlatformTestResult'];

/** The jobs of one "sync once", polled until each has finished: pages and records as they grow. */
function OnceProgress({ jobIds, onFinished }: { jobIds: string[]; onFinished: () => void }) {
  const { client } = useSession();
  const { data } = useApi(
    ['once', ...jobIds],
    () =>
      Promise.all(
        jobIds.map((id) => unwrap(client.GET('/api/v1/jobs/{id}', { params: { path: { id } } }))),
      ),
    {
      refreshInterval: (jobs?: Job[]) =>
        jobs && jobs.every((j) => FINISHED.has(j.status)) ? 0 : 1000,
      onSuccess: (jobs) => {
        if (jobs.every((j) => FINISHED.has(j.status))) onFinished();
      },
    },
  );
  return (
    <table aria-label="Sync progress">
      <thead>
        <tr>
          <th>Resource</th>
          <th>Status</th>
          <th>Pages</th>
          <th>Records</th>
          <th>Fetched / inserted / updated / unchanged</th>
        </tr>
      </thead>
      <tbody>
        {(data ?? []).map((job) => (
          <tr key={job.id} data-status={job.status}>
            <td>
              <Link href={`/jobs/${job.id}`}>{job.resource}</Link>
            </td>
            <td>
              <Status value={job.status} />
            </td>
            <td>{job.progress?.pages ?? 0}</td>
            {/* Progress is reported every few pages; a finished job's stats have the total. */}
            <td>
              {(FINISHED.has(job.status) ? job.stats?.fetched : null) ?? job.progress?.records ?? 0}
            </td>
            <td>
              {job.stats
                ? `${job.stats.fetched} / ${job.stats.inserted} / ${job.stats.updated} / ${job.stats.unchanged}`
                : '—'}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}

/**
 * One real request to a resource. A resource whose request has `{{param}}` placeholders (a
 * collect resource's declared params) gets a field per param: without values it cannot be asked.
 */
function ConnectionTest({
  id,
  resources,
}: {
  id: string;
  resources: { name: string; params: string[] }[];
}) {
  const { client } = useSession();
  const [resource, setResource] = useState(resources[0]?.name ?? '');
  const [values, setValues] = useState<Record<string, string>>({});
  const [result, setResult] = useState<TestResult | null>(null);
  const declared = resources.find((r) => r.name === resource)?.params ?? [];
  // A blank field is no value: the API then names the param that is missing.
  const params = Object.fromEntries(
    declared.flatMap((name) => (values[name] ? [[name, values[name]]] : [])),
  );
  return (
    <div className="inline-form">
      <select
        aria-label="Resource to test"
        value={resource}
        onChange={(e) => {
          setResource(e.target.value);
          setResult(null);
        }}
      >
        {resources.map((r) => (
          <option key={r.name}>{r.name}</option>
        ))}
      </select>
      {declared.map((name) => (
        <input
          key={name}
          aria-label={`Value of ${name}`}
          placeholder={name}
          maxLength={2_000}
          value={values[name] ?? ''}
          onChange={(e) => setValues({ ...values, [name]: e.target.value })}
        />
      ))}
      <ActionButton
        label="Test connection"
        action={async () =>
          setResult(
            await unwrap(
              client.POST('/api/v1/platforms/{id}/test', {
                params: { path: { id } },
                body: { resource, params },
              }),
            ),
          )
        }
      />
      {result ? (
        <span className={result.ok ? 'ok' : 'error'} role="status">
          {result.ok ? 'reachable' : 'failed'} · HTTP {result.status} ·{' '}
          {Math.round(result.latencyMs)} ms
          {result.itemCount === null ? '' : ` · ${result.itemCount} items`}
          {result.problem ? ` · ${result.problem}` : ''}
        </span>
      ) : null}
    </div>
  );
}

function DriftReports({ platformId }: { platformId: string }) {
  const { client } = useSession();
  const [open, setOpen] = useState<string | null>(null);
  const { data } = useApi(['validations', platformId], () =>
    unwrap(client.GET('/api/v1/validations', { params: { query: { platformId, limit: 20 } } })),
  );
  const report = useApi(open ? ['validation', open] : null, () =>
    unwrap(client.GET('/api/v1/validations/{jobId}', { params: { path: { jobId: open ?? '' } } })),
  );
  if (!data?.items.length) return <p className="muted">No validate runs yet.</p>;
  return (
    <>
      <table>
        <thead>
          <tr>
            <th>At</th>
            <th>Resource</th>
            <th>Drift</th>
            <th>Fetched</th>
            <th>Missing</th>
            <th>Extra</th>
            <th>Changed</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {data.items.map((v) => (
            <tr key={v.jobId}>
              <td>{time(v.at)}</td>
              <td>{v.resource}</td>
              <td>
                <Status value={v.drift ? 'drift' : 'in-step'} />
              </td>
              <td>{v.counts.fetched}</td>
              <td>{v.counts.missing}</td>
              <td>{v.counts.extra}</td>
              <td>{v.counts.changed}</td>
              <td>
                <button type="button" onClick={() => setOpen(open === v.jobId ? null : v.jobId)}>
                  {open === v.jobId ? 'Hide' : 'Diffs'}
                </button>
              </td>
            </tr>
          ))}
        </tbody>
      </table>
      {report.data ? (
        <table aria-label="Field diffs">
          <thead>
            <tr>
              <th>Key</th>
              <th>Field</th>
              <th>Ours</th>
              <th>Platform</th>
            </tr>
          </thead>
          <tbody>
            {report.data.changed.flatMap((c) =>
              c.fields.map((f) => (
                <tr key={`${c.key}-${f.field}`}>
                  <td>{c.key}</td>
                  <td>{f.field}</td>
                  <td>
                    <code>{JSON.stringify(f.old)}</code>
                  </td>
                  <td>
                    <code>{JSON.stringify(f.new)}</code>
                  </td>
                </tr>
              )),
            )}
            {report.data.missing.map((m) => (
              <tr key={`missing-${m.key}`}>
                <td>{m.key}</td>
                <td colSpan={3}>missing here</td>
              </tr>
            ))}
            {report.data.extra.map((m) => (
              <tr key={`extra-${m.key}`}>
                <td>{m.key}</td>
                <td colSpan={3}>no longer on the platform</td>
              </tr>
            ))}
          </tbody>
        </table>
      ) : null}
    </>
  );
}

export function PlatformDetail({ id }: { id: string }) {
  const { client } = useSession();
  const { mutate } = useSWRConfig();
  const [onceJobs, setOnceJobs] = useState<string[]>([]);
  const platform = useApi(['platform', id], () =>
    unwrap(client.GET('/api/v1/platforms/{id}', { params: { path: { id } } })),
  );
  const status = useApi(
    ['sync-status', id],
    () => unwrap(client.GET('/api/v1/platforms/{id}/sync/status', { params: { path: { id } } })),
    { refreshInterval: LIVE_MS },
  );
  const p = platform.data;
  const s = status.data;
  if (!p) {
    return platform.error ? (
      <PageError error={platform.error} what="platform" list={['/platforms', 'All platforms']} />
    ) : (
      <p className="loading">Loading…</p>
    );
  }
  const resources = p.resources.map((r) => r.name);
  const refresh = () => void status.mutate();
  /** After an admin's change: the platform as saved (when known), refetched with its status. */
  const refreshPlatform = async (latest?: Platform) => {
    await (latest ? platform.mutate(latest, { revalidate: true }) : platform.mutate());
    await status.mutate();
  };
  const breakerOpen = (s?.breaker ?? []).some((b) => b.state !== 'closed');

  return (
    <>
      <h1>
        {p.name} <Status value={p.active ? (s?.isRunning ? 'running' : 'stopped') : 'inactive'} />
      </h1>
      {/* The live status failing says so: what is shown below is as last read. */}
      <ErrorBox error={platform.error ?? status.error} />
      <p className="muted">
        {p.baseUrl} · priority {p.priority} · version {p.version}
        {p.tags.length ? ` · ${p.tags.join(', ')}` : ''}
      </p>
      <Can role="operator">
        <div className="actions">
          <ActionButton
            label="Sync once"
            action={async () => {
              const result = await unwrap(
                client.POST('/api/v1/platforms/{id}/sync/once', {
                  params: { path: { id }, query: { wait: 0 } },
                }),
              );
              setOnceJobs(result.jobs.map((j) => j.id));
            }}
          />
          <ActionButton
            label="Start sync"
            reason
            disabled={s?.isRunning}
            action={(reason) =>
              unwrap(
                client.POST('/api/v1/platforms/{id}/sync/start', {
                  params: { path: { id } },
                  body: { reason },
                }),
              )
            }
            onDone={refresh}
          />
          <ActionButton
            label="Stop sync"
            reason
            danger
            disabled={s ? !s.isRunning : false}
            action={(reason) =>
              unwrap(
                client.POST('/api/v1/platforms/{id}/sync/stop', {
                  params: { path: { id } },
                  body: { reason },
                }),
              )
            }
            onDone={refresh}
          />
          <ActionButton
            label="Reset breaker"
            disabled={!breakerOpen}
            action={() =>
              unwrap(
                client.POST('/api/v1/platforms/{id}/breaker/reset', { params: { path: { id } } }),
              )
            }
            onDone={refresh}
          />
        </div>
      </Can>
      <Can role="admin">
        <PlatformAdmin platform={p} refresh={refreshPlatform} />
      </Can>
      {onceJobs.length ? (
        <Section title="Sync once">
          <OnceProgress
            jobIds={onceJobs}
            onFinished={() =>
              // The sync changed the records and the last sync time: show the new ones.
              void mutate(
                (key) => Array.isArray(key) && key[0] === 'records' && key[1] === id,
                undefined,
                { revalidate: true },
              ).then(() => status.mutate())
            }
          />
        </Section>
      ) : null}
      <Section title="Schedule">
        <dl>
          <dt>Every</dt>
          <dd>{s?.syncInterval ? `${s.syncInterval} s` : (s?.cron ?? '—')}</dd>
          <dt>Last successful sync</dt>
          <dd>{ago(s?.lastUpdate)}</dd>
          <dt>Paused</dt>
          <dd>{s?.pausedReason ?? 'no'}</dd>
          <dt>Next fire times</dt>
          <dd>{s?.nextFireTimes.map((t) => time(t)).join(' · ') || '—'}</dd>
          <dt>Breaker</dt>
          <dd>
            {s?.breaker?.length
              ? s.breaker
                  .map(
                    (b) =>
                      `${b.service}: ${b.state}${b.state === 'closed' ? '' : ` since ${ago(b.changedAt)} (${time(b.changedAt)})`}`,
                  )
                  .join(', ')
              : 'closed'}
          </dd>
        </dl>
      </Section>
      <Section title="Resources">
        <table>
          <thead>
            <tr>
              <th>Name</th>
              <th>Tasks</th>
              <th>Request</th>
              <th>Paging</th>
              <th>Key</th>
            </tr>
          </thead>
          <tbody>
            {p.resources.map((r) => (
              <tr key={r.name}>
                <td>{r.name}</td>
                <td>{r.tasks.join(', ')}</td>
                <td>
                  <code>
                    {r.request.method} {r.request.path}
                  </code>
                </td>
                <td>{r.pagination.type}</td>
                <td>
                  <code>{r.key}</code>
                </td>
              </tr>
            ))}
          </tbody>
        </table>
        <Can role="admin">
          <ConnectionTest id={id} resources={p.resources} />
        </Can>
      </Section>
      <Section title="Drift reports">
        <DriftReports platformId={id} />
      </Section>
      <Section title="Records">
        <Records platformId={id} resources={resources} />
      </Section>
    </>
  );
}
