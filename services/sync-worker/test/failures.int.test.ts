import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, it } from 'node:test';
import { QUEUES, breakerList, breakerReset, recordsList } from '@psc/contracts';
import { startFakePlatform, waitFor, type Item } from '@psc/testing';
import { startHarness, TEST_TIERS_MS } from './support/harness.ts';

const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ id: `i${i + 1}` }));
const resource = {
  name: 'items',
  request: { path: '/items' },
  pagination: { type: 'none' },
  itemsPath: 'data',
  key: 'id',
  mapping: { id: 'id' },
};

describe('sync-worker.jobs: failures, breaker, dead letters', { timeout: 90_000 }, () => {
  it('when the platform keeps answering 500, then the job is retried with growing delays and reported dead after 4 attempts with the reason; its next run after recovery succeeds', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform({ collections: { '/items': items(3) } });
    t.after(() => fake.stop());
    fake.setFault({ status: 500, body: { error: 'boom' } });
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [resource],
      breaker: { volumeThreshold: 100, errorThresholdPercentage: 100, resetTimeoutMs: 1_000 },
    });

    const jobId = await h.runJob(platform, 'items');
    const done = await h.finished(jobId);

    assert.equal(done.outcome, 'dead');
    assert.deepEqual(done.error, {
      message: 'platform answered HTTP 500',
      class: 'upstream_status',
    });
    const failures = h.eventsOf('job.failed', jobId);
    assert.deepEqual(
      failures.map((f) => [f.attempt, f.outcome]),
      [
        [1, 'retrying'],
        [2, 'retrying'],
        [3, 'retrying'],
        [4, 'dead'],
      ],
    );
    const times = fake.requests.map((r) => r.at);
    assert.equal(times.length, 4);
    const gaps = times.slice(1).map((at, i) => at - times[i]!);
    // Each retry waits a jittered step of its tier: at least an eighth, at most the whole tier.
    for (let i = 0; i < gaps.length; i += 1) {
      const tier = TEST_TIERS_MS[i]!;
      assert.ok(gaps[i]! >= tier / 8 - 20, `gap ${i} ${gaps[i]} ms ≥ 1/8 of tier ${tier}`);
      assert.ok(gaps[i]! <= tier + 1_000, `gap ${i} ${gaps[i]} ms within tier ${tier}`);
    }
    // The ledger keeps dead jobs (and replays them): nothing is parked on the broker.
    const check = h.broker.createChannel('test.check', () => Promise.resolve());
    t.after(() => check.close());
    await check.waitForConnect();
    assert.equal((await check.checkQueue(QUEUES.deadLetter(QUEUES.syncJobs))).messageCount, 0);

    fake.setFault(null);
    // The ledger's replay: the same job as run 2, attempts from 1.
    await h.runJob(platform, 'items', { jobId, run: 2 });
    const replayed = await h.finished(jobId, 15_000, 2);
    assert.equal(replayed.attempt, 1);
    assert.ok(replayed.stats, 'replayed run succeeded');
    const stored = await h.rpc.call(recordsList, {
      platformId: platform.id,
      resource: 'items',
      limit: 10,
    });
    assert.equal(stored.items.length, 3);
  });

  it('when a 404 comes back, then the job fails at once without retries', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform();
    t.after(() => fake.stop());
    const platform = h.addPlatform({ baseUrl: fake.url, resources: [resource] });
    const jobId = await h.runJob(platform, 'items');
    const done = await h.finished(jobId);
    assert.equal(done.outcome, 'failed');
    assert.equal(done.attempt, 1);
    assert.equal(fake.requests.length, 1);
  });

  it("when the registry sealed a credential under another key than the worker's, then the job fails once with worker_key_mismatch, the platform is never called, and the worker goes on with another platform's job", async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform({ collections: { '/items': items(2) } });
    t.after(() => fake.stop());
    const mismatched = h.addPlatform(
      { baseUrl: fake.url, auth: { type: 'bearer', token: 'kept-secret' }, resources: [resource] },
      { sealedUnder: randomBytes(32) },
    );
    const jobId = await h.runJob(mismatched, 'items');
    const done = await h.finished(jobId);
    assert.equal(done.outcome, 'failed');
    assert.equal(done.attempt, 1);
    const error = done.error as { class: string; message: string };
    assert.equal(error.class, 'worker_key_mismatch');
    assert.match(error.message, /sealed under worker key [\w-]{8}, this worker holds [\w-]{8}/);
    assert.match(error.message, /PSC_WORKER_SECRET_KEY/);
    assert.equal(fake.requests.length, 0);
    assert.deepEqual(
      h.eventsOf('job.failed', jobId).map((f) => f.outcome),
      ['failed'],
    );

    const healthy = h.addPlatform({
      baseUrl: fake.url,
      auth: { type: 'bearer', token: 'right-secret' },
      resources: [resource],
    });
    const next = await h.finished(await h.runJob(healthy, 'items'));
    assert.equal((next.stats as { inserted: number }).inserted, 2);
    assert.equal(fake.requests[0]?.headers.authorization, 'Bearer right-secret');
    assert.doesNotMatch(JSON.stringify(h.events), /kept-secret|right-secret/);
  });

  it('when the worker key is being changed and the worker holds the key the registry still seals under as PSC_WORKER_SECRET_KEY_PREVIOUS, then the job runs with the credential', async (t) => {
    const oldKey = randomBytes(32);
    const h = await startHarness(t, { PSC_WORKER_SECRET_KEY_PREVIOUS: oldKey.toString('base64') });
    const fake = await startFakePlatform({ collections: { '/items': items(2) } });
    t.after(() => fake.stop());
    const platform = h.addPlatform(
      { baseUrl: fake.url, auth: { type: 'bearer', token: 'old-sealed' }, resources: [resource] },
      { sealedUnder: oldKey },
    );
    const done = await h.finished(await h.runJob(platform, 'items'));
    assert.equal(done.error, undefined);
    assert.equal((done.stats as { inserted: number }).inserted, 2);
    assert.equal(fake.requests[0]?.headers.authorization, 'Bearer old-sealed');
  });

  it('when the breaker opens after the threshold, then later jobs are deferred without attempts and succeed after the platform recovers', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform({ collections: { '/items': items(2) } });
    t.after(() => fake.stop());
    fake.setFault({ status: 503 });
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [resource],
      breaker: { volumeThreshold: 2, errorThresholdPercentage: 50, resetTimeoutMs: 1_500 },
    });
    const deferred: unknown[] = [];
    h.app.jobs.on('deferred', (e) => deferred.push(e));

    const first = await h.runJob(platform, 'items');
    await waitFor(() => h.eventsOf('breaker.state-changed').find((e) => e.state === 'open'), {
      message: 'breaker opened',
    });
    const requestsWhenOpen = fake.requests.length;
    const second = await h.runJob(platform, 'items');
    await waitFor(() => deferred.length >= 1, { message: 'a job deferred' });
    const open = await h.rpc.call(breakerList['sync-worker'], { platformId: platform.id });
    assert.deepEqual(
      open.items.map((b) => [b.service, b.state]),
      [['sync-worker', 'open']],
    );
    const waiting = await waitFor(() => h.eventsOf('job.waiting', second)[0], {
      message: 'the held job reported waiting',
    });
    assert.match(String(waiting.reason), /breaker for platform .* is open/);
    assert.ok(Date.parse(String(waiting.nextAttemptAt)) > Date.parse(String(waiting.at)));
    fake.setFault(null);

    const done = await h.finished(second, 20_000);
    assert.ok(done.stats, 'second job succeeded');
    assert.ok(fake.requests.length > requestsWhenOpen);
    // Deferrals are not attempts: the second job never failed.
    assert.deepEqual(h.eventsOf('job.failed', second), []);
    await h.finished(first, 20_000);
    await waitFor(() => h.eventsOf('breaker.state-changed').find((e) => e.state === 'closed'));
    const reset = await h.rpc.call(breakerReset['sync-worker'], { platformId: platform.id });
    assert.equal(reset.platformId, platform.id);
  });

  it('when a platform whose breaker opened is deleted, then the monitoring list no longer shows it, and its stored breaker states, limits and breaker gauge are gone', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform();
    t.after(() => fake.stop());
    fake.setFault({ status: 503 });
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [resource],
      rateLimit: { requestsPerSecond: 5, concurrency: 2 },
      breaker: { volumeThreshold: 1, errorThresholdPercentage: 1, resetTimeoutMs: 60_000 },
    });
    await h.runJob(platform, 'items');
    await waitFor(() => h.eventsOf('breaker.state-changed').find((e) => e.state === 'open'), {
      message: 'breaker opened',
    });
    const rowsOf = async () => {
      const counts: Record<string, number> = {};
      for (const table of ['breaker_states', 'rate_limits', 'platform_slots']) {
        const [row] = await h
          .knex(`sync.${table}`)
          .where({ platform_id: platform.id })
          .count<{ count: string }[]>({ count: '*' });
        counts[table] = Number(row?.count);
      }
      return counts;
    };
    await waitFor(async () => (await rowsOf()).breaker_states === 1, {
      message: 'the open breaker is stored',
    });
    assert.deepEqual(await rowsOf(), { breaker_states: 1, rate_limits: 1, platform_slots: 2 });

    await h.deletePlatform(platform);
    await waitFor(async () => Object.values(await rowsOf()).every((n) => n === 0), {
      message: 'the platform’s rows are gone',
    });
    const listed = await h.rpc.call(breakerList['sync-worker'], { platformId: platform.id });
    assert.deepEqual(listed.items, [], 'the monitoring list no longer shows it');
    const gauge = await h.metrics.getSingleMetric('psc_breaker_state')?.get();
    assert.deepEqual(
      gauge?.values.filter((v) => v.labels.platform === platform.id),
      [],
      'nor does /metrics',
    );
  });

  it('when the platform answers 429 with Retry-After: 2, then the next try waits at least 2 s', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform({ collections: { '/items': items(2) } });
    t.after(() => fake.stop());
    fake.failNext(1, { status: 429, headers: { 'retry-after': '2' } });
    const platform = h.addPlatform({ baseUrl: fake.url, resources: [resource] });

    const done = await h.finished(await h.runJob(platform, 'items'));

    assert.ok(done.stats);
    const [first, second] = fake.requests;
    assert.ok(second!.at - first!.at >= 2_000, `waited ${second!.at - first!.at} ms`);
  });

  it('when the platform hangs, then the call times out and the retry succeeds', async (t) => {
    const h = await startHarness(t);
    const fake = await startFakePlatform({ collections: { '/items': items(2) } });
    t.after(() => fake.stop());
    fake.failNext(1, 'timeout');
    const platform = h.addPlatform({ baseUrl: fake.url, resources: [resource], timeoutMs: 300 });

    const jobId = await h.runJob(platform, 'items');
    const done = await h.finished(jobId);

    assert.ok(done.stats);
    const [failure] = h.eventsOf('job.failed', jobId);
    assert.deepEqual(failure?.error, {
      message: 'platform did not answer within 300 ms',
      class: 'timeout',
    });
  });
});
