import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startFakePlatform, waitFor, type FakePlatform, type Item } from '@psc/testing';
import { defaultMetricFamilies } from '../../libs/telemetry/src/metric-catalog.ts';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import {
  dashboardQueries,
  knownFromExposition,
  ruleQueries,
  unknownMetrics,
} from '../deploy/support/metric-names.ts';
import { ROOT, promtool, run } from '../deploy/support/tools.ts';
import { has, parseExposition, scrapeService, total } from '../support/metrics.ts';
import { startSystem, type ServiceName, type System } from '../support/system.ts';

const items = (n: number): Item[] =>
  Array.from({ length: n }, (_, i) => ({ code: `c${String(i).padStart(4, '0')}`, qty: i }));

describe('GET /metrics of a running system', { timeout: 180_000 }, () => {
  let system: System;
  let fake: FakePlatform;

  before(async () => {
    fake = await startFakePlatform();
    // One service at a time: on a busy machine five starting at once can take over 30 s each.
    system = await startSystem({
      name: 'metrics',
      services: ['scheduler'],
      env: { PSC_RETRY_TIERS_MS: '200,400,800', PSC_SCHEDULER_TICK_MS: '200' },
    });
    for (const name of ['platform-registry', 'sync-worker', 'collector', 'gateway'] as const) {
      await system.start(name);
    }
  });
  after(async () => {
    await system?.stop();
    await fake?.stop();
  });

  const scrapeText = (service: ServiceName) => scrapeService(system, service);
  const scrape = async (service: ServiceName) => parseExposition(await scrapeText(service));

  async function register(
    path: string,
    extra: Record<string, unknown> = {},
  ): Promise<{ id: string }> {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: {
        name: `m-${path}-${Math.random().toString(36).slice(2, 8)}`,
        baseUrl: fake.url,
        resources: [
          {
            name: path,
            request: { path: `/${path}` },
            pagination: { type: 'page', pageSize: 10 },
            itemsPath: 'data',
            key: 'code',
            mapping: { code: 'code', qty: 'qty' },
          },
        ],
        ...extra,
      },
    });
    assert.equal(created.status, 201, JSON.stringify(created.body));
    return created.body;
  }
  const runSync = async (platformId: string, resource: string) => {
    const res = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource },
    });
    assert.equal(res.status, 202, JSON.stringify(res.body));
    return res.body.jobs[0]!.id;
  };
  const jobStatus = async (id: string) =>
    (await system.api<{ status: string }>(`/api/v1/jobs/${id}`)).body.status;

  it('when a scheduled sync succeeds, a job dies into the dead-letter queue and a breaker opens, then each psc metric moves, with bounded labels, promtool check metrics finds nothing, the dashboard and alerts read only exported metrics, and the breaker-deferred job shows waiting with nextAttemptAt', async () => {
    const before = {
      scheduler: await scrape('scheduler'),
      worker: await scrape('sync-worker'),
    };
    assert.equal(total(before.scheduler, 'psc_scheduler_leader'), 1, 'one leader');
    assert.equal(total(before.scheduler, 'psc_dlq_messages', { task_type: 'sync' }), 0);
    assert.equal(total(before.worker, 'psc_jobs_active', { task_type: 'sync' }), 0);

    // A sync that succeeds, on its own schedule (every 2 s): schedule lag, success, last success.
    fake.setCollection('/stock', items(25));
    fake.setLatency(300, { path: '/stock' });
    const good = await register('stock', {
      schedule: { sync: { enabled: true, intervalSeconds: 2 } },
    });
    // A platform that always answers 500 and whose breaker never opens: its job dies.
    fake.setFault({ status: 500, body: { error: 'boom' } }, { path: '/broken' });
    const broken = await register('broken', {
      breaker: { volumeThreshold: 1_000, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
    });
    // One whose breaker opens at the first failure: its job waits.
    fake.setFault({ status: 503, body: { error: 'down' } }, { path: '/down' });
    const down = await register('down', {
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 },
    });

    // While a slow page is being fetched, the worker reports the job active.
    await waitFor(
      async () => total(await scrape('sync-worker'), 'psc_jobs_active', { task_type: 'sync' }) > 0,
      { timeoutMs: 30_000, intervalMs: 50, message: 'a sync job active' },
    );
    const deadJob = await runSync(broken.id, 'broken');
    const heldJob = await runSync(down.id, 'down');
    await waitFor(async () => (await jobStatus(deadJob)) === 'dead', {
      timeoutMs: 30_000,
      message: 'job dead',
    });

    const scheduler = await waitFor(
      async () => {
        const s = await scrape('scheduler');
        const moved =
          total(s, 'psc_jobs_total', { task_type: 'sync', status: 'succeeded' }) > 0 &&
          total(s, 'psc_jobs_total', { task_type: 'sync', status: 'dead' }) > 0 &&
          total(s, 'psc_jobs_total', { task_type: 'sync', status: 'waiting' }) > 0 &&
          total(s, 'psc_dlq_messages', { task_type: 'sync' }) >= 1 &&
          has(s, 'psc_resource_last_success_timestamp_seconds', {
            platform: good.id,
            resource: 'stock',
          });
        return moved ? s : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 200, message: 'scheduler metrics moved' },
    );
    assert.ok(
      total(scheduler, 'psc_jobs_total', { task_type: 'sync', status: 'queued' }) >= 3,
      'queued: the scheduled run and two run-now jobs',
    );
    assert.ok(total(scheduler, 'psc_schedule_lag_seconds_count') >= 1, 'schedule lag observed');
    const lastSuccess = total(scheduler, 'psc_resource_last_success_timestamp_seconds', {
      platform: good.id,
    });
    assert.ok(Math.abs(lastSuccess - Date.now() / 1000) < 60, `last success ${lastSuccess}`);
    assert.ok(has(scheduler, 'psc_outbox_pending'), 'scheduler outbox');
    // The stale-sync alert's inputs: only the scheduled resource has them.
    assert.equal(
      total(scheduler, 'psc_resource_sync_interval_seconds', {
        platform: good.id,
        resource: 'stock',
      }),
      2,
    );
    const scheduleStart = total(scheduler, 'psc_resource_sync_schedule_start_timestamp_seconds', {
      platform: good.id,
    });
    assert.ok(Math.abs(scheduleStart - Date.now() / 1000) < 120, `schedule start ${scheduleStart}`);
    assert.ok(!has(scheduler, 'psc_resource_sync_interval_seconds', { platform: broken.id }));

    const worker = await waitFor(
      async () => {
        const s = await scrape('sync-worker');
        return total(s, 'psc_breaker_state', { platform: down.id }) === 2 ? s : undefined;
      },
      { timeoutMs: 30_000, message: 'breaker open in /metrics' },
    );
    // The job its open breaker holds back is reported as waiting, with its next attempt.
    const held = await waitFor(
      async () => {
        const j = (
          await system.api<{ status: string; nextAttemptAt: string | null }>(
            `/api/v1/jobs/${heldJob}`,
          )
        ).body;
        return j.status === 'waiting' ? j : undefined;
      },
      { timeoutMs: 30_000, message: 'breaker-deferred job waiting' },
    );
    assert.ok(held.nextAttemptAt, 'waiting with a next attempt time');
    assert.ok(Date.parse(held.nextAttemptAt) > Date.now() - 60_000);
    assert.ok(total(worker, 'psc_job_duration_seconds_count', { task_type: 'sync' }) >= 1);
    assert.ok(total(worker, 'psc_job_duration_seconds_sum', { task_type: 'sync' }) >= 0.3);
    assert.ok(
      total(worker, 'psc_platform_requests_total', { platform: good.id, status: '200' }) >= 3,
    );
    assert.ok(
      total(worker, 'psc_platform_requests_total', { platform: broken.id, status: '500' }) >= 4,
      'one request per attempt',
    );
    assert.ok(total(worker, 'psc_platform_request_duration_seconds_count') >= 7);
    assert.ok(has(worker, 'psc_outbox_pending'), 'sync-worker outbox');
    // The dead job was given up by the job consumer; nothing was held (the database stayed up).
    assert.ok(
      total(worker, 'psc_messages_dead_lettered_total', { queue: 'sync-worker.jobs' }) >= 1,
      'the given-up job counted',
    );
    assert.equal(total(worker, 'psc_messages_held_total', { queue: 'sync-worker.jobs' }), 0);
    assert.ok(
      has(worker, 'psc_messages_dead_lettered_total', { queue: 'sync-worker.platform-events' }),
      'a per-replica queue is labelled by its name in the topology table',
    );

    const gateway = await scrape('gateway');
    assert.ok(
      has(gateway, 'psc_queue_messages', { queue: 'sync-worker.jobs', state: 'ready' }),
      'queue depth of the sync jobs queue',
    );
    for (const service of ['platform-registry', 'collector'] as const) {
      const samples = await scrape(service);
      assert.ok(has(samples, 'psc_outbox_pending'), `${service} outbox`);
      if (service === 'collector') {
        assert.equal(total(samples, 'psc_jobs_active', { task_type: 'collect' }), 0);
      }
    }

    // Bounded labels: platforms by id, never a job id or a URL.
    const jobIds = (await system.api<{ items: { id: string }[] }>('/api/v1/jobs?limit=100')).body
      .items;
    const platformIds = new Set([good.id, broken.id, down.id]);
    for (const samples of [scheduler, worker, gateway]) {
      for (const s of samples) {
        for (const value of Object.values(s.labels)) {
          assert.ok(!jobIds.some((j) => j.id === value), `${s.name}: job id as a label`);
          assert.doesNotMatch(value, /^https?:/, `${s.name}: URL as a label`);
        }
        if (s.labels.platform) assert.ok(platformIds.has(s.labels.platform), s.name);
      }
    }

    // The dashboard and the alert rules read only what the running services export.
    const bodies = await Promise.all([...system.services.keys()].map((name) => scrapeText(name)));
    const known = knownFromExposition(...bodies);
    const dashboards = join(ROOT, 'deploy/grafana/dashboards');
    const rules = join(ROOT, 'deploy/prometheus/rules');
    const queries = [
      ...readdirSync(dashboards)
        .filter((f) => f.endsWith('.json'))
        .flatMap((f) =>
          dashboardQueries(
            JSON.parse(readFileSync(join(dashboards, f), 'utf8')) as Parameters<
              typeof dashboardQueries
            >[0],
          ),
        ),
      ...readdirSync(rules)
        .filter((f) => f.endsWith('.yml'))
        .flatMap((f) => ruleQueries(readFileSync(join(rules, f), 'utf8'), f)),
    ];
    assert.ok(queries.length > 10);
    assert.deepEqual(unknownMetrics(queries, known), [], 'queries naming metrics nobody exports');

    // promtool lints every exposition; prom-client's own default families are not ours.
    const defaults = new Set(defaultMetricFamilies().map((f) => f.name));
    for (const service of system.services.keys()) {
      const checked = await run(promtool(), ['check', 'metrics'], {
        input: await scrapeText(service),
      });
      const findings = (checked.stdout + checked.stderr)
        .split('\n')
        .filter(Boolean)
        .filter((line) => !defaults.has(line.split(' ')[0]!));
      assert.deepEqual(findings, [], `promtool on ${service}`);
    }
  });
});
