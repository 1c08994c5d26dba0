import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFakePlatform, waitFor } from '@psc/testing';
import { SCHEMA } from '../migrations/index.ts';
import { itemsResource, startHarness } from './support/harness.ts';

describe('sync-worker.jobs: a rate-limited platform’s burst', { timeout: 90_000 }, () => {
  it('when ten jobs of a platform limited to 2 requests/s are queued ahead of another platform’s job, then that job runs at once instead of after the burst; the ten are deferred with their turns booked and each succeeds on its first attempt, at the platform’s rate', async (t) => {
    const h = await startHarness(t, {
      PSC_WORKER_CONCURRENCY: '2',
      PSC_WORKER_PREFETCH: '2',
      PSC_PLATFORM_TURN_WAIT_MS: '300',
    });
    const slowFake = await startFakePlatform({ collections: { '/items': [{ id: 's1' }] } });
    t.after(() => slowFake.stop());
    const slow = h.addPlatform({
      baseUrl: slowFake.url,
      resources: [itemsResource('items')],
      rateLimit: { requestsPerSecond: 2, concurrency: 2 },
    });
    const quickFake = await startFakePlatform({ collections: { '/items': [{ id: 'q1' }] } });
    t.after(() => quickFake.stop());
    const quick = h.addPlatform({ baseUrl: quickFake.url, resources: [itemsResource('items')] });

    const burst: string[] = [];
    for (let i = 0; i < 10; i += 1) burst.push(await h.runJob(slow, 'items'));
    const quickJob = await h.runJob(quick, 'items');

    await h.finished(quickJob);
    assert.equal(h.eventsOf('job.succeeded', quickJob).length, 1, 'the other platform’s job ran');
    // Waiting in the worker's two slots for their turns, the burst would have let it run only
    // after eight of its requests, four seconds in.
    assert.ok(
      slowFake.requests.length <= 4,
      `the burst had made ${slowFake.requests.length} of its 10 requests by then`,
    );

    for (const jobId of burst) await h.finished(jobId, 30_000);
    const succeeded = burst.map((jobId) => h.eventsOf('job.succeeded', jobId));
    assert.deepEqual(
      succeeded.map((events) => events.map((e) => e.attempt)),
      burst.map(() => [1]),
      'each succeeded once, on its first attempt',
    );
    assert.deepEqual(h.eventsOf('job.failed'), [], 'no attempt failed');
    const waiting = h.eventsOf('job.waiting');
    assert.ok(waiting.length >= 6, `most of the burst was deferred (${waiting.length} deferrals)`);
    for (const w of waiting) {
      assert.match(String(w.reason), /is rate-limited: this job's turn is in \d+\.\d s/);
    }
    const deferrals = await h.metrics.getSingleMetric('psc_platform_deferrals_total')?.get();
    assert.deepEqual(
      deferrals?.values.map((v) => [v.labels.platform, v.labels.reason, v.value]),
      [[slow.id, 'rate', waiting.length]],
      'each deferral counted in /metrics, by its platform and reason',
    );
    assert.equal(slowFake.requests.length, 10, 'one request per job: none wasted');
    const times = slowFake.requests.map((r) => r.at).sort((a, b) => a - b);
    const busiest = Math.max(
      ...times.map((at) => times.filter((u) => u >= at && u < at + 1_000).length),
    );
    assert.ok(busiest <= 3, `at most 2 (+1 at a window edge) per second, saw ${busiest}`);
  });

  it('when the deferred jobs of a burst are cancelled, then the turns they booked are freed: the platform’s next job takes the first of them instead of waiting behind them all', async (t) => {
    const h = await startHarness(t, {
      PSC_WORKER_CONCURRENCY: '2',
      PSC_WORKER_PREFETCH: '2',
      PSC_PLATFORM_TURN_WAIT_MS: '300',
    });
    const fake = await startFakePlatform({ collections: { '/items': [{ id: 's1' }] } });
    t.after(() => fake.stop());
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [itemsResource('items')],
      rateLimit: { requestsPerSecond: 0.5, concurrency: 2 },
    });
    const tickets = () =>
      h
        .knex(`${SCHEMA}.rate_tickets`)
        .where({ platform_id: platform.id })
        .orderBy('turn_at')
        .select<{ holder: string; turn_at: Date }[]>('holder', 'turn_at');

    const burst: string[] = [];
    for (let i = 0; i < 5; i += 1) burst.push(await h.runJob(platform, 'items'));
    // One runs at once; the other four book the next turns, 2 s apart.
    await waitFor(async () => (await tickets()).length === 4, {
      message: 'four turns booked',
      timeoutMs: 15_000,
    });
    const booked = await tickets();
    const deferred = burst.filter((id) => booked.some((b) => b.holder === `${id}/1`));
    assert.equal(deferred.length, 4);
    for (const jobId of deferred) await h.cancelJob(jobId);
    await waitFor(async () => (await tickets()).every((b) => b.holder.startsWith('free:')), {
      message: 'the cancelled jobs’ turns freed',
    });

    const next = await h.runJob(platform, 'items');
    await h.finished(next, 30_000);
    const asked = fake.requests.at(-1)!.at;
    const last = booked.at(-1)!.turn_at.getTime();
    assert.ok(
      asked < last - 2_000,
      `the next job asked ${Math.round((last - asked) / 1000)} s before the last booked turn, not after it`,
    );
    assert.equal(fake.requests.length, 2, 'the cancelled jobs asked nothing');
  });
});
