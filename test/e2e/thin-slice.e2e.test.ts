import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  boothSample,
  startFakePlatform,
  startOtlpReceiver,
  waitFor,
  type FakePlatform,
  type OtlpReceiver,
} from '@psc/testing';
import { EXCHANGES } from '@psc/contracts';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform, type JobView } from '../support/platforms.ts';

const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const SPAN_KIND = { server: 2, client: 3, producer: 4, consumer: 5 } as const;

describe('thin slice: register a platform, sync it, read the records', () => {
  let system: System;
  let platform: FakePlatform;
  let otlp: OtlpReceiver;
  let platformId: string;
  let firstJob: JobView;

  before(async () => {
    otlp = await startOtlpReceiver();
    platform = await startFakePlatform({ collections: { '/booth/all': boothSample(25) } });
    system = await startSystem({
      name: 'thin-slice',
      env: { OTEL_EXPORTER_OTLP_ENDPOINT: otlp.url },
    });
  });

  after(async () => {
    await system?.stop();
    await platform?.stop();
    await otlp?.stop();
  });

  async function runSync(): Promise<{ job: JobView; seen: string[] }> {
    const run = await system.api<{ jobs: { id: string; status: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource: 'booths' },
    });
    assert.equal(run.status, 202);
    assert.equal(run.body.jobs.length, 1);
    assert.equal(run.body.jobs[0]?.status, 'queued');
    const id = run.body.jobs[0].id;
    const seen: string[] = ['queued'];
    const job = await waitFor(
      async () => {
        const { body } = await system.api<JobView>(`/api/v1/jobs/${id}`);
        if (seen.at(-1) !== body.status) seen.push(body.status);
        return ['succeeded', 'failed', 'dead'].includes(body.status) ? body : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 20, message: 'job finished' },
    );
    return { job, seen };
  }

  it('when a platform is registered, then it is created with an id and can be read back', async () => {
    const created = await system.api<{ id: string; name: string; version: number }>(
      '/api/v1/platforms',
      {
        body: boothPlatform(platform.url),
      },
    );
    assert.equal(created.status, 201);
    assert.match(created.body.id, /^[0-9a-f-]{36}$/);
    assert.equal(created.body.version, 1);
    platformId = created.body.id;
    const read = await system.api<{ id: string; resources: { name: string }[] }>(
      `/api/v1/platforms/${platformId}`,
    );
    assert.equal(read.status, 200);
    assert.equal(read.body.resources[0]?.name, 'booths');
  });

  it('when a sync runs, then the job goes queued → running → succeeded with its stats', async () => {
    platform.setLatency(150); // three pages take long enough to watch the job run
    const { job, seen } = await runSync();
    platform.setLatency(0);
    firstJob = job;
    assert.deepEqual(seen, ['queued', 'running', 'succeeded']);
    assert.deepEqual(job.stats, {
      fetched: 25,
      inserted: 25,
      updated: 0,
      unchanged: 0,
      deleted: 0,
    });
    assert.equal(job.attempts, 1);
    assert.ok(job.startedAt && job.finishedAt && job.startedAt <= job.finishedAt);
    assert.match(job.traceId ?? '', /^[0-9a-f]{32}$/);
    assert.equal(platform.requests.filter((r) => r.path === '/booth/all').length, 3);
  });

  it('when records are read, then every mapped record is there, page by page', async () => {
    const keys: string[] = [];
    let cursor: string | null = null;
    let booth1: Record<string, unknown> | undefined;
    do {
      const query: string = cursor ? `?limit=10&cursor=${cursor}` : '?limit=10';
      const { status, body } = await system.api<{
        items: { key: string; data: Record<string, unknown> }[];
        nextCursor: string | null;
      }>(`/api/v1/data/${platformId}/booths${query}`);
      assert.equal(status, 200);
      keys.push(...body.items.map((i) => i.key));
      booth1 ??= body.items.find((i) => i.key === 'Booth 1')?.data;
      cursor = body.nextCursor;
    } while (cursor);
    assert.equal(keys.length, 25);
    assert.equal(new Set(keys).size, 25);
    const source = boothSample(1)[0]!;
    assert.deepEqual(booth1, {
      name: 'Booth 1',
      allTable: source.boothAllTable,
      usageTable: source.boothUsageTable,
      canUsage: source.boothUsageTable < source.boothAllTable,
      category: 'BOOTH',
    });
  });

  it('when the same data is synced again, then nothing is rewritten and all records count as unchanged', async () => {
    const { job } = await runSync();
    assert.equal(job.status, 'succeeded');
    assert.deepEqual(job.stats, {
      fetched: 25,
      inserted: 0,
      updated: 0,
      unchanged: 25,
      deleted: 0,
    });
  });

  it('then one trace covers gateway → scheduler → job publish → worker → platform call → upsert', async () => {
    const traceId = firstJob.traceId!;
    const has = (
      service: string,
      kind: number,
      test: (name: string, attrs: Record<string, unknown>) => boolean,
    ) =>
      otlp
        .trace(traceId)
        .some((s) => s.service === service && s.kind === kind && test(s.name, s.attributes));
    const hops = {
      'gateway HTTP request': () =>
        has('gateway', SPAN_KIND.server, (n) => n.includes('/api/v1/run')),
      'gateway → scheduler request': () => has('gateway', SPAN_KIND.producer, () => true),
      'scheduler handles the request': () => has('scheduler', SPAN_KIND.consumer, () => true),
      'scheduler publishes the job': () =>
        has(
          'scheduler',
          SPAN_KIND.producer,
          (n, a) =>
            n.includes(EXCHANGES.jobs) || a['messaging.destination.name'] === EXCHANGES.jobs,
        ),
      'worker consumes the job': () =>
        has('sync-worker', SPAN_KIND.consumer, (n) => n.includes('sync-worker.jobs')),
      'worker calls the platform': () =>
        has(
          'sync-worker',
          SPAN_KIND.client,
          (n, a) => /GET/.test(n) || a['http.request.method'] === 'GET',
        ),
      'worker upserts into PostgreSQL': () =>
        has('sync-worker', SPAN_KIND.client, (n, a) =>
          /insert/i.test(`${text(a['db.statement'])} ${text(a['db.query.text'])} ${n}`),
        ),
    };
    if (process.env.PSC_TEST_VERBOSE)
      console.log(otlp.trace(traceId).map((s) => `${s.service}:${s.kind}:${s.name}`));
    await waitFor(() => Object.values(hops).every((hop) => hop()), {
      timeoutMs: 15_000,
      message: 'all hops in one trace',
    }).catch((err: unknown) => {
      const missing = Object.entries(hops)
        .filter(([, hop]) => !hop())
        .map(([name]) => name);
      const seen = otlp.trace(traceId).map((s) => `${s.service}:${s.kind}:${s.name}`);
      throw new Error(`missing hops: ${missing.join(', ')}; trace has: ${seen.join(' | ')}`, {
        cause: err,
      });
    });
  });

  it('then worker heartbeats make no spans, and Koa middleware layers make none of their own', async () => {
    const since = Date.now();
    await waitFor(
      async () => {
        const res = await system.api<{ items: { service: string; lastSeenAt: string }[] }>(
          '/api/v1/monitoring/workers',
        );
        return res.body.items.some(
          (w) => w.service === 'sync-worker' && Date.parse(w.lastSeenAt) > since,
        );
      },
      { timeoutMs: 20_000, message: 'a heartbeat sent while traces are exported' },
    );
    // Spans export in batches every 200 ms: give the heartbeat's (if any) time to arrive.
    const settled = Date.now() + 1_000;
    await waitFor(() => Date.now() > settled, { timeoutMs: 5_000 });
    const spans = otlp.spans();
    const heartbeatSpans = spans.filter((s) =>
      JSON.stringify([s.name, s.attributes]).includes('worker.heartbeat'),
    );
    assert.deepEqual(
      heartbeatSpans.map((s) => `${s.service}:${s.name}`),
      [],
    );
    const middleware = spans.filter((s) => s.attributes['koa.type'] === 'middleware');
    assert.deepEqual(
      middleware.map((s) => `${s.service}:${s.name}`),
      [],
    );
    assert.ok(
      spans.some((s) => s.attributes['koa.type'] === 'router'),
      'route spans remain',
    );
  });
});
