import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  boothSample,
  spawnService,
  startFakePlatform,
  startInfra,
  waitFor,
  waitUntilStarted,
  type FakePlatform,
} from '@psc/testing';
import { launchOf } from '../support/launch.ts';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform } from '../support/platforms.ts';

interface LogItem {
  id: string;
  at: string;
  level: string;
  service: string;
  jobId: string | null;
  platformId: string | null;
  message: string;
}
interface WorkerItem {
  service: string;
  pid: number;
  currentJobs: string[];
  processed: { succeeded: number; failed: number };
}
interface Pipeline {
  status: string;
  reasons: string[];
}

describe('operations: /api/v1/logs and /api/v1/monitoring', () => {
  let system: System;
  let platform: FakePlatform;
  let flakyId: string;
  let healthyId: string;

  before(async () => {
    platform = await startFakePlatform({ collections: { '/booth/all': boothSample(3) } });
    platform.route('GET', '/ok', () => ({ body: { items: [{ id: 1 }] } }));
    platform.route('GET', '/down', () => ({ status: 503, body: {} }));
    system = await startSystem({
      name: 'operations',
      env: { PSC_MAX_ATTEMPTS: '3', PSC_HEARTBEAT_MS: '300' },
    });
    const collectPlatform = (name: string, path: string) => ({
      name: `${name}-${Math.random().toString(36).slice(2, 8)}`,
      baseUrl: platform.url,
      breaker: { errorThresholdPercentage: 1, volumeThreshold: 1, resetTimeoutMs: 600_000 },
      resources: [
        {
          name: 'feed',
          tasks: ['collect'],
          request: { path },
          itemsPath: 'items',
          key: 'id',
          mapping: { id: 'id' },
        },
      ],
    });
    flakyId = (
      await system.api<{ id: string }>('/api/v1/platforms', {
        body: collectPlatform('flaky', '/down'),
      })
    ).body.id;
    healthyId = (
      await system.api<{ id: string }>('/api/v1/platforms', {
        body: collectPlatform('healthy', '/ok'),
      })
    ).body.id;
  });

  after(async () => {
    await system?.stop();
    await platform?.stop();
  });

  it('when nothing runs, then the pipeline is idle and the collector is listed as a live worker', async () => {
    const workers = await waitFor(async () => {
      const r = await system.api<{ items: { service: string; pid: number; host: string }[] }>(
        '/api/v1/monitoring/workers',
      );
      return r.body.items.find((w) => w.service === 'collector');
    });
    assert.equal(workers.pid, system.services.get('collector')?.process.pid);
    const pipeline = await waitFor(async () => {
      const r = await system.api<Pipeline>('/api/v1/monitoring/pipeline');
      return r.body.status === 'idle' ? r.body : undefined;
    });
    assert.deepEqual(pipeline.reasons, []);
    const queues = await system.api<{
      items: { name: string; exists: boolean; consumers: number }[];
    }>('/api/v1/monitoring/queues');
    const collectorJobs = queues.body.items.find((q) => q.name === 'collector.jobs');
    assert.equal(collectorJobs?.exists, true);
    assert.ok((collectorJobs?.consumers ?? 0) >= 1);
  });

  it('when a sync job has run, then the sync-worker is listed as a live worker with its pid and processed count', async () => {
    const booths = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(platform.url),
    });
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId: booths.body.id, resource: 'booths' },
    });
    assert.equal(run.status, 202);
    const jobId = run.body.jobs[0]?.id;
    const worker = await waitFor(
      async () => {
        const r = await system.api<{ items: WorkerItem[] }>('/api/v1/monitoring/workers');
        return r.body.items.find((w) => w.service === 'sync-worker' && w.processed.succeeded >= 1);
      },
      { timeoutMs: 20_000, message: 'sync-worker heartbeat with one processed job' },
    );
    assert.equal(worker.pid, system.services.get('sync-worker')?.process.pid);
    assert.equal(worker.processed.failed, 0);
    assert.deepEqual(worker.currentJobs, []);
    await waitFor(async () => {
      const job = await system.api<{ status: string }>(`/api/v1/jobs/${jobId}`);
      return job.body.status === 'succeeded';
    });
  });

  it("when the management API refuses the gateway's login, then queue depths still come (from passive declares, without unacked counts), the pipeline status answers, and one warning says why without the password", async () => {
    const management = new URL((await startInfra()).managementUrl);
    const password = `wrong-${Math.random().toString(36).slice(2)}`;
    management.password = password;
    const gateway = spawnService({
      name: 'gateway',
      ...launchOf('gateway'),
      env: {
        ...system.secretsFor('gateway'),
        AMQP_URL: system.env.amqpUrl,
        DATABASE_URL: system.env.databaseUrl,
        HTTP_PORT: '0',
        LOG_LEVEL: 'info',
        RABBITMQ_MANAGEMENT_URL: management.toString(),
      },
    });
    try {
      const url = await waitUntilStarted(gateway);
      const get = async <T>(path: string) => {
        const res = await fetch(`${url}${path}`, { headers: { 'x-api-key': system.adminKey } });
        return { status: res.status, body: (await res.json()) as T };
      };
      for (let i = 0; i < 2; i += 1) {
        const queues = await get<{
          items: { name: string; exists: boolean; consumers: number; unacked: number | null }[];
        }>('/api/v1/monitoring/queues');
        assert.equal(queues.status, 200, JSON.stringify(queues.body));
        const jobs = queues.body.items.find((q) => q.name === 'sync-worker.jobs');
        assert.equal(jobs?.exists, true);
        assert.ok((jobs?.consumers ?? 0) >= 1);
        assert.equal(jobs?.unacked, null, 'passive declares cannot count unacked messages');
      }
      const pipeline = await get<{ status: string }>('/api/v1/monitoring/pipeline');
      assert.equal(pipeline.status, 200, JSON.stringify(pipeline.body));
      const warning = await gateway.waitForLine((l) => l.includes('management API unavailable'));
      assert.match(warning, /answered 401/);
      assert.ok(
        !gateway.lines().join('\n').includes(password),
        'the password stays out of the log',
      );
      assert.equal(
        gateway.lines().filter((l) => l.includes('management API unavailable')).length,
        1,
        'one warning while it keeps failing',
      );
    } finally {
      await gateway.stop();
    }
  });

  it('when a platform keeps failing, then its breaker opens and the pipeline is degraded; logs filter by level and job', async () => {
    const ok = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId: healthyId, resource: 'feed' },
    });
    const bad = await system.api<{ jobId: string }>('/api/v1/collections', {
      body: { platformId: flakyId, resource: 'feed' },
    });
    const pipeline = await waitFor(
      async () => {
        const r = await system.api<Pipeline>('/api/v1/monitoring/pipeline');
        return r.body.status === 'degraded' ? r.body : undefined;
      },
      { timeoutMs: 20_000, message: 'pipeline degraded' },
    );
    assert.ok(
      pipeline.reasons.some((r) => r.includes(`breaker open for platform ${flakyId}`)),
      pipeline.reasons.join('; '),
    );

    const warnings = await waitFor(async () => {
      const r = await system.api<{ items: LogItem[] }>(
        `/api/v1/logs?level=warn&jobId=${bad.body.jobId}`,
      );
      return r.body.items.length > 0 ? r.body.items : undefined;
    });
    assert.ok(
      warnings.every(
        (e) => e.jobId === bad.body.jobId && ['warn', 'error', 'fatal'].includes(e.level),
      ),
    );
    assert.ok(warnings.some((e) => /retrying/.test(e.message)));
    await waitFor(async () => {
      const r = await system.api<{ items: LogItem[] }>(
        `/api/v1/logs?level=info&jobId=${ok.body.jobId}`,
      );
      return r.body.items.some((e) => e.message === 'job succeeded');
    });
    const okWarnings = await system.api<{ items: LogItem[] }>(
      `/api/v1/logs?level=warn&jobId=${ok.body.jobId}`,
    );
    assert.deepEqual(okWarnings.body.items, []);
    const breakerLog = await system.api<{ items: LogItem[] }>(
      `/api/v1/logs?level=warn&service=collector&platformId=${flakyId}`,
    );
    assert.ok(breakerLog.body.items.some((e) => e.message === 'breaker opened'));
    const bogus = await system.api<{ error: { code: string } }>('/api/v1/logs?level=loud');
    assert.equal(bogus.status, 422);

    // Paging back two lines a page, following nextCursor: newest first, every line once. The
    // job may still log meanwhile: its newer lines come first, and no line read before is lost.
    const filter = `level=info&platformId=${flakyId}`;
    const whole = (await system.api<{ items: LogItem[] }>(`/api/v1/logs?${filter}&limit=1000`)).body
      .items;
    assert.ok(whole.length >= 3, `${whole.length} lines`);
    const paged: LogItem[] = [];
    let cursor: string | null = '';
    while (cursor !== null) {
      const r: { status: number; body: { items: LogItem[]; nextCursor: string | null } } =
        await system.api(`/api/v1/logs?${filter}&limit=2${cursor ? `&cursor=${cursor}` : ''}`);
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.ok(r.body.items.length <= 2);
      paged.push(...r.body.items);
      cursor = r.body.nextCursor;
    }
    const pagedIds = paged.map((e) => e.id);
    assert.equal(new Set(pagedIds).size, pagedIds.length, 'no line twice');
    assert.ok(
      whole.every((e) => pagedIds.includes(e.id)),
      'every line the one big page had',
    );
    assert.ok(
      paged.every((e, i) => i === 0 || paged[i - 1]!.at >= e.at),
      'newest first across pages',
    );
    // `until`: only what came before a moment, here the newest line's.
    const moment = whole[0]!.at;
    const before = (
      await system.api<{ items: LogItem[] }>(`/api/v1/logs?${filter}&limit=1000&until=${moment}`)
    ).body.items;
    assert.ok(before.every((e) => e.at < moment));
    const beforeIds = before.map((e) => e.id);
    assert.ok(whole.filter((e) => e.at < moment).every((e) => beforeIds.includes(e.id)));
    // The same moment on Seoul's clock (+09:00) is the same instant.
    const seoul = `${new Date(Date.parse(moment) + 9 * 3_600_000).toISOString().slice(0, -1)}+09:00`;
    const inSeoul = await system.api<{ items: LogItem[] }>(
      `/api/v1/logs?${filter}&limit=1000&until=${encodeURIComponent(seoul)}`,
    );
    assert.equal(inSeoul.status, 200);
    assert.deepEqual(
      inSeoul.body.items.map((e) => e.id),
      beforeIds,
    );
    const forged = await system.api<{ error: { code: string } }>('/api/v1/logs?cursor=bm9wZQ');
    assert.equal(forged.status, 400);
    assert.equal(forged.body.error.code, 'bad_request');
  });

  it('when a worker is stopped and its work queues up, then the pipeline is stalled', async () => {
    await system.services.get('sync-worker')?.process.stop();
    // Its last heartbeat says it is stopping: it leaves the worker list at once.
    await waitFor(async () => {
      const r = await system.api<{ items: WorkerItem[] }>('/api/v1/monitoring/workers');
      return !r.body.items.some((w) => w.service === 'sync-worker');
    });
    const booths = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(platform.url),
    });
    const run = await system.api('/api/v1/run/sync', {
      body: { platformId: booths.body.id, resource: 'booths' },
    });
    assert.equal(run.status, 202);
    const pipeline = await waitFor(
      async () => {
        const r = await system.api<Pipeline>('/api/v1/monitoring/pipeline');
        return r.body.status === 'stalled' ? r.body : undefined;
      },
      { timeoutMs: 20_000, message: 'pipeline stalled' },
    );
    assert.ok(
      pipeline.reasons.some((r) =>
        r.startsWith('sync-worker.jobs: 1 message(s) waiting and no consumer'),
      ),
      pipeline.reasons.join('; '),
    );
  });
});
