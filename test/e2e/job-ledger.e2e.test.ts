import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakePlatform, waitFor, type FakePlatform, type Item } from '@psc/testing';
import type { components } from '@psc/api-client';
import { EXCHANGES } from '@psc/contracts';
import { captureEvents, publishRaw, type EventCapture } from '../support/event-capture.ts';
import { startSystem, type System } from '../support/system.ts';

interface LedgerJob {
  id: string;
  status: string;
  trigger: string;
  attempts: number;
  stats: { fetched: number } | null;
  error: { message: string; class: string } | null;
  progress?: { pages: number; records: number } | null;
}

type DeadLetterDetail = components['schemas']['DeadLetterDetail'];

const items = (n: number): Item[] =>
  Array.from({ length: n }, (_, i) => ({ code: `c${String(i).padStart(4, '0')}`, qty: i }));
const FINISHED = ['succeeded', 'failed', 'dead', 'cancelled'];

describe('job ledger end to end: DLQ inspect and replay, cancelling a running job, progress', () => {
  let system: System;
  let fake: FakePlatform;
  let succeeded: EventCapture;

  before(async () => {
    fake = await startFakePlatform();
    system = await startSystem({
      name: 'job-ledger',
      services: ['platform-registry', 'scheduler', 'sync-worker', 'gateway'],
      env: { PSC_RETRY_TIERS_MS: '200,400,800' },
    });
    succeeded = await captureEvents(system.env.vhost, 'job.succeeded');
  });
  after(async () => {
    await system?.stop();
    await fake?.stop();
  });

  /** A platform with one paged resource at `/<name>` (10 items a page); returns its id. */
  async function register(name: string): Promise<string> {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `${name}-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        // Never opens in these tests: every failure must burn an attempt.
        breaker: { volumeThreshold: 1_000, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
        resources: [
          {
            name,
            request: { path: `/${name}` },
            pagination: { type: 'page', pageSize: 10 },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code', qty: 'qty' },
          },
        ],
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body.id;
  }

  async function run(platformId: string, resource: string): Promise<string> {
    const res = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.jobs[0]!.id;
  }

  const job = async (id: string): Promise<LedgerJob> =>
    (await system.api<LedgerJob>(`/api/v1/jobs/${id}`)).body;
  const until = (id: string, test: (j: LedgerJob) => boolean, message: string) =>
    waitFor(
      async () => {
        const j = await job(id);
        return test(j) ? j : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, message },
    );
  const pageRequests = (path: string) => fake.requests.filter((r) => r.path === path).length;

  it('POST /api/v1/dlq/{jobId}/replay: when a job died on 500s and the platform recovered, then the replay shows in GET /api/v1/jobs/{id} and ends succeeded with trigger replay', async () => {
    fake.setCollection('/orders', items(25));
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/orders' });
    const platformId = await register('orders');
    const jobId = await run(platformId, 'orders');

    const dead = await until(jobId, (j) => FINISHED.includes(j.status), 'first run finished');
    assert.equal(dead.status, 'dead');
    assert.equal(dead.attempts, 4);
    assert.equal(dead.error?.class, 'upstream_status');
    assert.equal(pageRequests('/orders'), 4, 'one request per attempt');
    await waitFor(
      async () => {
        const dlq = await system.api<{ items: { jobId: string }[] }>('/api/v1/dlq');
        return dlq.body.items.some((d) => d.jobId === jobId);
      },
      { message: 'job in the DLQ' },
    );

    fake.setFault(null, { path: '/orders' });
    const replay = await system.api<{ replayed: string[] }>(`/api/v1/dlq/${jobId}/replay`, {
      method: 'POST',
    });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    assert.deepEqual(replay.body.replayed, [jobId]);

    const done = await until(jobId, (j) => j.status === 'succeeded', 'replay succeeded');
    assert.equal(done.trigger, 'replay');
    assert.equal(done.attempts, 1, 'the replay counts attempts afresh');
    assert.equal(done.stats?.fetched, 25);
    assert.equal(done.error, null);
    const dlq = await system.api<{ items: { jobId: string }[] }>('/api/v1/dlq');
    assert.ok(!dlq.body.items.some((d) => d.jobId === jobId), 'no longer in the DLQ');
  });

  it('GET /api/v1/dlq/{jobId}: when a dead job and a poison message carry secrets, then a viewer sees each reason, headers and payload with no secret in them, and 404 for an unknown id', async () => {
    const viewer = await system.api<{ key: string }>('/api/v1/api-keys', {
      body: { name: 'dlq-viewer', role: 'viewer' },
    });
    assert.equal(viewer.status, 201, JSON.stringify(viewer.body));
    const asViewer = { apiKey: viewer.body.key };

    fake.setCollection('/vault', items(5));
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/vault' });
    const platformId = await register('vault');
    const res = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: {
        platformId,
        resource: 'vault',
        params: { full: true, apiKey: 'sk-e2e-secret-1', auth: { password: 'pw-e2e-secret-2' } },
      },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    const jobId = res.body.jobs[0]!.id;
    await until(jobId, (j) => j.status === 'dead', 'job dead');

    const dead = await waitFor(
      async () => {
        const got = await system.api<DeadLetterDetail>(`/api/v1/dlq/${jobId}`, asViewer);
        return got.status === 200 ? got.body : undefined;
      },
      { message: 'the dead job in GET /api/v1/dlq/{jobId}' },
    );
    assert.deepEqual(
      [dead.jobId, dead.platformId, dead.resource, dead.taskType, dead.attempts, dead.replayable],
      [jobId, platformId, 'vault', 'sync', 4, true],
    );
    assert.match(dead.reason, /upstream_status/);
    assert.equal(dead.error?.class, 'upstream_status');
    assert.equal(dead.message?.type, 'job.run');
    assert.equal(dead.message?.headers['x-psc-attempt'], 4);
    const run = dead.message?.payload as { payload: { jobId: string; params: unknown } };
    assert.equal(run.payload.jobId, jobId);
    assert.deepEqual(run.payload.params, {
      full: true,
      apiKey: '[redacted]',
      auth: '[redacted]',
    });

    // A job.run outside its contract, from a producer that put a credential in its headers.
    const messageId = `poison-${Math.random().toString(36).slice(2, 8)}`;
    await publishRaw(
      system.env.vhost,
      EXCHANGES.jobs,
      'sync',
      JSON.stringify({ type: 'job.run', version: 1, payload: { token: 'tok-e2e-secret-3' } }),
      { messageId, headers: { authorization: 'Bearer tok-e2e-secret-4', 'x-origin': 'e2e' } },
    );
    const poison = await waitFor(
      async () => {
        const list = await system.api<{ items: { id: string; jobId: string | null }[] }>(
          '/api/v1/dlq?reason=poison_message',
          asViewer,
        );
        for (const item of list.body.items.filter((i) => i.jobId === null)) {
          const got = await system.api<DeadLetterDetail>(`/api/v1/dlq/${item.id}`, asViewer);
          if (got.body.message?.messageId === messageId) return got.body;
        }
        return undefined;
      },
      { message: 'the poison message in the dead-letter queue' },
    );
    assert.match(poison.reason, /poison_message: job\.run fails its contract/);
    assert.equal(poison.replayable, false);
    assert.equal(poison.queue, 'sync-worker.jobs');
    assert.deepEqual(
      [poison.message?.headers.authorization, poison.message?.headers['x-origin']],
      ['[redacted]', 'e2e'],
    );
    assert.deepEqual(poison.message?.payload, {
      type: 'job.run',
      version: 1,
      payload: { token: '[redacted]' },
    });

    const shown = JSON.stringify([dead, poison]);
    for (const secret of [
      'sk-e2e-secret-1',
      'pw-e2e-secret-2',
      'tok-e2e-secret-3',
      'tok-e2e-secret-4',
    ]) {
      assert.ok(!shown.includes(secret), `${secret} is not shown`);
    }
    const unknown = await system.api<{ error: { code: string } }>(
      '/api/v1/dlq/0b6f2c1e-8d4a-4f57-9b3e-2a1c5d7e9f10',
      asViewer,
    );
    assert.equal(unknown.status, 404, JSON.stringify(unknown.body));
  });

  it('POST /api/v1/jobs/{id}/cancel: when a running multi-page job is cancelled, then it stops at its next page, ends cancelled and never succeeds', async () => {
    fake.setCollection('/slow', items(300));
    fake.setLatency(300, { path: '/slow' });
    const platformId = await register('slow');
    const jobId = await run(platformId, 'slow');
    await until(jobId, (j) => j.status === 'running' && (j.progress?.pages ?? 0) >= 2, 'running');

    const cancel = await system.api<LedgerJob>(`/api/v1/jobs/${jobId}/cancel`, {
      body: { reason: 'operator stop' },
    });
    assert.equal(cancel.status, 200, JSON.stringify(cancel.body));
    const requestsAtCancel = pageRequests('/slow');
    const cancelled = await until(jobId, (j) => FINISHED.includes(j.status), 'job stopped');
    assert.equal(cancelled.status, 'cancelled');
    const requestsAtStop = pageRequests('/slow');

    // Another job runs to its end on the worker meanwhile: a barrier, not a sleep.
    fake.setCollection('/barrier', items(5));
    const barrier = await run(await register('barrier'), 'barrier');
    await until(barrier, (j) => FINISHED.includes(j.status), 'barrier job finished');
    assert.equal(pageRequests('/slow'), requestsAtStop, 'no page requested after the stop');
    fake.setLatency(0, { path: '/slow' });

    assert.ok(
      requestsAtStop - requestsAtCancel <= 2,
      `stopped at its next page: ${requestsAtStop - requestsAtCancel} requests after the cancel`,
    );
    assert.ok(requestsAtStop < 30, `${requestsAtStop} of 30 pages fetched`);
    const events = await succeeded.drain();
    assert.ok(!events.some((e) => e.payload.jobId === jobId), 'no job.succeeded for it');
    assert.ok(
      events.some((e) => e.payload.jobId === barrier),
      'the barrier job did succeed',
    );
    assert.equal((await job(jobId)).status, 'cancelled');
  });

  it('GET /api/v1/jobs/{id}: when a multi-page job runs, then its progress (pages, records) grows until it finishes', async () => {
    fake.setCollection('/paged', items(80));
    fake.setLatency(200, { path: '/paged' });
    const platformId = await register('paged');
    const jobId = await run(platformId, 'paged');

    const seen: { pages: number; records: number }[] = [];
    const done = await waitFor(
      async () => {
        const j = await job(jobId);
        const last = seen.at(-1);
        if (j.status === 'running' && j.progress && j.progress.pages !== last?.pages)
          seen.push(j.progress);
        return FINISHED.includes(j.status) ? j : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 50, message: 'paged job finished' },
    );
    fake.setLatency(0, { path: '/paged' });

    assert.equal(done.status, 'succeeded');
    assert.ok(seen.length >= 3, `progress seen growing: ${JSON.stringify(seen)}`);
    for (let i = 1; i < seen.length; i += 1) {
      assert.ok(seen[i]!.pages > seen[i - 1]!.pages, JSON.stringify(seen));
      assert.ok(seen[i]!.records >= seen[i - 1]!.records, JSON.stringify(seen));
    }
    assert.ok(seen.at(-1)!.records <= 80 && seen.at(-1)!.records > 0, JSON.stringify(seen));
    // Progress reports stop before the last page; the outcome says where the run ended.
    assert.equal(done.progress?.records, 80, JSON.stringify(done));
    assert.ok(done.progress.pages > seen.at(-1)!.pages, JSON.stringify(done));
  });
});
