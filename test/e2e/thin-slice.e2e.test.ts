import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { isDeepStrictEqual } from 'node:util';
import {
  boothSample,
  startFakePlatform,
  startOtlpReceiver,
  waitFor,
  type CollectedSpan,
  type FakePlatform,
  type OtlpReceiver,
} from '@psc/testing';
import { EXCHANGES, QUEUES } from '@psc/contracts';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform, type JobView } from '../support/platforms.ts';

const text = (v: unknown): string => (typeof v === 'string' ? v : '');
const SPAN_KIND = { server: 2, client: 3, producer: 4, consumer: 5 } as const;

/** The sync-worker consuming a job's `job.run`. */
const workerRan = (s: CollectedSpan): boolean =>
  s.service === 'sync-worker' && s.kind === SPAN_KIND.consumer && s.name.includes(QUEUES.syncJobs);
/** The scheduler applying a job's success to its ledger row. */
const outcomeApplied = (s: CollectedSpan): boolean =>
  s.service === 'scheduler' &&
  s.name === `${QUEUES.schedulerJobEvents} apply` &&
  s.attributes['psc.message.type'] === 'job.succeeded';

/**
 * The spans of a trace that hang from no span of it: the root, and any span whose parent was
 * never recorded (a backend shows those as broken trees). A whole trace has exactly one.
 */
const rootsOf = (spans: CollectedSpan[]): CollectedSpan[] =>
  spans.filter((s) => !s.parentSpanId || !spans.some((p) => p.spanId === s.parentSpanId));
const describeSpans = (spans: CollectedSpan[]): string =>
  spans.map((s) => `${s.service}:${s.name}`).join(', ');

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

  it("when 24 syncs run at once, then each job's own trace shows the worker running it and the scheduler applying its outcome, even when their requests, slots and outcomes were shared", async () => {
    // Four platforms (one resource's syncs run one at a time) and slow pages: the worker's four
    // slots stay full, so most deliveries wait for a slot that another job's end frees.
    const platformIds = [platformId];
    for (let i = 0; i < 3; i += 1) {
      const created = await system.api<{ id: string }>('/api/v1/platforms', {
        body: boothPlatform(platform.url),
      });
      assert.equal(created.status, 201);
      platformIds.push(created.body.id);
    }
    platform.setLatency(100);
    const runs = await Promise.all(
      Array.from({ length: 24 }, (_, i) =>
        system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
          body: { platformId: platformIds[i % platformIds.length], resource: 'booths' },
        }),
      ),
    );
    const ids = runs.map((run) => {
      assert.equal(run.status, 202);
      return run.body.jobs[0]!.id;
    });
    const jobs = await waitFor(
      async () => {
        const views = await Promise.all(
          ids.map(async (id) => (await system.api<JobView>(`/api/v1/jobs/${id}`)).body),
        );
        return views.every((v) => v.status === 'succeeded') ? views : undefined;
      },
      { timeoutMs: 60_000, message: '24 jobs succeeded' },
    );
    platform.setLatency(0);
    const applied = (traceId: string) => otlp.trace(traceId).filter(outcomeApplied);
    // Each job's own trace, the one its record names: not the first request's of a coalesced batch.
    const ran = (traceId: string) => otlp.trace(traceId).some(workerRan);
    const complete = (traceId: string) => ran(traceId) && applied(traceId).length > 0;
    await waitFor(() => jobs.every((job) => complete(job.traceId!)), {
      timeoutMs: 15_000,
      message: 'every job trace has the worker running it and the scheduler applying its outcome',
    }).catch((err: unknown) => {
      const missing = jobs.filter((job) => !complete(job.traceId!)).length;
      throw new Error(`${missing} of 24 job traces lack the worker's run or the outcome's apply`, {
        cause: err,
      });
    });
    // Each is one tree under the run-now request that made it: a coalesced request's jobs hang
    // from a span of the scheduler's in that request's trace, not from a parent never recorded.
    const rootOf = (traceId: string) => {
      const roots = rootsOf(otlp.trace(traceId));
      return roots.length === 1 ? roots[0] : undefined;
    };
    await waitFor(() => jobs.every((job) => rootOf(job.traceId!)), {
      timeoutMs: 10_000,
      message: 'every job trace is one tree',
    }).catch((err: unknown) => {
      const broken = jobs.filter((job) => !rootOf(job.traceId!));
      throw new Error(
        `${broken.length} of 24 job traces are not one tree; the first's roots: ${describeSpans(rootsOf(otlp.trace(broken[0]!.traceId!)))}`,
        { cause: err },
      );
    });
    for (const job of jobs) {
      const root = rootOf(job.traceId!)!;
      assert.deepEqual([root.service, root.kind], ['gateway', SPAN_KIND.server]);
    }
    // The case this covers: requests that went to the scheduler in another request's call.
    const calledAlone = jobs.filter((job) =>
      otlp
        .trace(job.traceId!)
        .some((s) => s.service === 'gateway' && s.kind === SPAN_KIND.producer),
    );
    assert.ok(calledAlone.length < jobs.length, 'no run-now request was coalesced');
    // A coalesced request's span in the scheduler links to the call that carried it, and that
    // call's spans are in the trace of a request of the same call (its jobs were inserted by the
    // same statement: one createdAt), not of one that an earlier call carried.
    const byTrace = new Map(
      jobs.map((job) => [job.traceId!, job as JobView & { createdAt: string }]),
    );
    const ownSpan = (traceId: string) =>
      otlp.trace(traceId).find((s) => s.service === 'scheduler' && s.name === 'run-now sync');
    const coalesced = jobs.filter((job) => ownSpan(job.traceId!));
    assert.equal(coalesced.length, jobs.length - calledAlone.length);
    for (const job of coalesced) {
      const call = byTrace.get(ownSpan(job.traceId!)!.links[0]?.traceId ?? '');
      assert.ok(call, "the call's trace is a job's of this test");
      assert.equal(call.createdAt, byTrace.get(job.traceId!)!.createdAt, 'of the same call');
    }
    // Outcomes that went several to a message keep their own traces too; whether they did here
    // depends on timing (libs/messaging/test/outbox-traces.int.test.ts shows the bundle's header).
    const spans = jobs.flatMap((job) => applied(job.traceId!));
    for (const span of spans) {
      assert.equal(span.statusCode, 1, 'the outcome was applied');
      // Linked to the ledger's batch, which links back to every trace it served.
      const [link] = span.links;
      const batch = otlp.spans().find((s) => s.spanId === link?.spanId);
      assert.equal(batch?.name, `${QUEUES.schedulerJobEvents} batch`);
      assert.ok(batch.links.some((l) => l.traceId === span.traceId));
    }
  });

  it("when a schedule starts a sync, then the trace its job record names holds the publish, the worker's run and the outcome", async () => {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(platform.url, {
        schedule: { sync: { enabled: true, intervalSeconds: 1 } },
      }),
    });
    assert.equal(created.status, 201);
    const scheduledId = created.body.id;
    const job = await waitFor(
      async () => {
        const { body } = await system.api<{ items: (JobView & { trigger: string })[] }>(
          `/api/v1/jobs?platformId=${scheduledId}&status=succeeded&limit=1`,
        );
        return body.items[0];
      },
      { timeoutMs: 30_000, message: 'a scheduled sync succeeded' },
    );
    const removed = await system.api(`/api/v1/platforms/${scheduledId}`, { method: 'DELETE' });
    assert.equal(removed.status, 204);
    assert.equal(job.trigger, 'schedule');
    const hops = (traceId: string) => {
      const spans = otlp.trace(traceId);
      return {
        published: spans.some((s) => s.service === 'scheduler' && s.kind === SPAN_KIND.producer),
        ran: spans.some(workerRan),
        applied: spans.some(outcomeApplied),
      };
    };
    const all = { published: true, ran: true, applied: true };
    await waitFor(() => isDeepStrictEqual(hops(job.traceId!), all), {
      timeoutMs: 15_000,
      message: 'the scheduled job trace',
    }).catch((err: unknown) => {
      throw new Error(`scheduled job trace: ${JSON.stringify(hops(job.traceId!))}`, { cause: err });
    });
    // One tree, under a span the scheduler recorded for the run it planned.
    const roots = rootsOf(otlp.trace(job.traceId!));
    assert.equal(roots.length, 1, `roots: ${describeSpans(roots)}`);
    assert.equal(roots[0]!.service, 'scheduler');
    assert.equal(roots[0]!.parentSpanId, undefined, 'the root has no parent');
  });

  it("when a dead job is replayed, then its trace holds one tree per run: the request's, and the replay's, linked to the request that replayed it", async () => {
    const path = `/booth/gone-${Math.random().toString(36).slice(2, 8)}`;
    platform.setFault({ status: 404, body: { error: 'gone' } }, { path });
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(platform.url, {
        resources: [{ ...boothPlatform(platform.url).resources[0]!, request: { path } }],
      }),
    });
    assert.equal(created.status, 201);
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId: created.body.id, resource: 'booths' },
    });
    assert.equal(run.status, 202);
    const jobId = run.body.jobs[0]!.id;
    const ended = (...statuses: string[]) =>
      waitFor(
        async () => {
          const { body } = await system.api<JobView>(`/api/v1/jobs/${jobId}`);
          return statuses.includes(body.status) ? body : undefined;
        },
        { timeoutMs: 30_000, message: `the job ${statuses.join(' or ')}` },
      );
    // A 404 is not worth a retry: the job goes to the dead-letter queue at once.
    await ended('failed', 'dead');
    platform.setFault(null, { path });
    platform.setCollection(path, boothSample(3));
    const replay = await system.api<{ replayed: string[] }>(`/api/v1/dlq/${jobId}/replay`, {
      body: { reason: 'platform back' },
    });
    assert.equal(replay.status, 200, JSON.stringify(replay.body));
    const job = await ended('succeeded');
    const rootsNow = () => rootsOf(otlp.trace(job.traceId!));
    const replayRoot = (s: CollectedSpan) => s.service === 'scheduler' && s.name === 'replay sync';
    // Both runs reached the worker, each under its own root (the worker's spans may come in
    // before the scheduler's: wait for the replay's root, not just for two).
    await waitFor(
      () =>
        otlp.trace(job.traceId!).filter(workerRan).length === 2 &&
        rootsNow().length === 2 &&
        rootsNow().some(replayRoot),
      { timeoutMs: 15_000, message: 'two runs, two trees' },
    ).catch((err: unknown) => {
      throw new Error(`roots: ${describeSpans(rootsNow())}`, { cause: err });
    });
    const [request, replayed] = rootsNow();
    assert.deepEqual([request!.service, request!.kind], ['gateway', SPAN_KIND.server]);
    assert.ok(replayRoot(replayed!), describeSpans([replayed!]));
    assert.equal(replayed!.parentSpanId, undefined);
    const [link] = replayed!.links;
    const replayRequest = otlp.trace(link!.traceId).find((s) => s.spanId === link!.spanId);
    assert.equal(
      replayRequest?.service,
      'scheduler',
      'linked to the replay call the scheduler ran',
    );
    // Whose trace starts at the replay request (the gateway's span ends, and is exported, last).
    const replayCall = (s: CollectedSpan) =>
      s.service === 'gateway' && s.name === 'POST /api/v1/dlq/:jobId/replay';
    await waitFor(() => rootsOf(otlp.trace(link!.traceId)).some(replayCall), {
      timeoutMs: 5_000,
      message: 'the replay request at the root of its trace',
    }).catch((err: unknown) => {
      throw new Error(`roots: ${describeSpans(rootsOf(otlp.trace(link!.traceId)))}`, {
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
