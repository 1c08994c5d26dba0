import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { QUEUES } from '@psc/contracts';
import { closeConsumerChannels, startFakePlatform, waitFor, type Item } from '@psc/testing';
import { heldPlatform, startHarness } from './support/harness.ts';

const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ id: `i${i + 1}` }));

// One page is stored by one statement, several by one transaction: a duplicate is refused by both.
const shapes = [
  { name: 'of one page', pagination: undefined, requests: 2 },
  { name: 'of four pages', pagination: { type: 'page', pageSize: 5 }, requests: 8 },
];

describe('sync-worker.jobs: two copies of one run', { timeout: 60_000 }, () => {
  for (const shape of shapes) {
    it(`when two copies of the same run ${shape.name} race on one worker, then the second finds the first’s record and is acked as already done: one success, no failed attempt, every item inserted once`, async (t) => {
      const h = await startHarness(t, { PSC_WORKER_CONCURRENCY: '4', PSC_MAX_ATTEMPTS: '1' });
      const fake = await startFakePlatform({ collections: { '/items': items(20) } });
      t.after(() => fake.stop());
      // Slow pages keep both copies inside their runs at the same time.
      fake.setLatency(300);
      const platform = h.addPlatform({
        baseUrl: fake.url,
        resources: [
          {
            name: 'items',
            request: { path: '/items' },
            ...(shape.pagination ? { pagination: shape.pagination } : {}),
            itemsPath: 'data',
            key: 'id',
            mapping: { id: 'id' },
          },
        ],
      });
      const jobId = randomUUID();
      await Promise.all([
        h.runJob(platform, 'items', { jobId, run: 1 }),
        h.runJob(platform, 'items', { jobId, run: 1 }),
      ]);
      const done = await h.finished(jobId);
      // Both copies ran: each fetched its pages.
      await waitFor(() => fake.requests.length >= shape.requests, {
        message: 'both copies fetched',
      });
      await waitFor(() => h.app.jobs.inFlight() === 0, {
        message: 'both deliveries settled',
      });
      assert.equal(h.eventsOf('job.succeeded', jobId).length, 1);
      assert.deepEqual(h.eventsOf('job.failed', jobId), [], 'the copy is not a failed attempt');
      assert.deepEqual(done.stats, {
        fetched: 20,
        inserted: 20,
        updated: 0,
        unchanged: 0,
        deleted: 0,
      });
    });
  }

  it('when a one-page run is cancelled while its page is on its way, then it ends cancelled: nothing of it is stored and it never succeeds', async (t) => {
    const h = await startHarness(t);
    const { fake, platform, answer } = await heldPlatform(h, t);
    const jobId = await h.runJob(platform, 'items');
    await waitFor(() => fake.requests.length >= 1, { message: 'the page was asked for' });
    await h.cancelJob(jobId);
    await waitFor(
      async () =>
        (await h.knex.withSchema('sync').table('cancelled_jobs').where({ job_id: jobId })).length >
        0,
      { message: 'the worker stored the cancellation' },
    );
    answer();
    const done = await h.finished(jobId);
    assert.equal(done.outcome, 'cancelled');
    assert.deepEqual(h.eventsOf('job.succeeded', jobId), []);
    const stored = await h.knex
      .withSchema('sync')
      .table('records')
      .where({ platform_id: platform.id });
    assert.deepEqual(stored, [], 'no record of the cancelled run');
    const runs = await h.knex.withSchema('sync').table('job_runs').where({ job_id: jobId });
    assert.deepEqual(runs, [], 'no run record either');
    // The worker goes on: the next run of the same resource stores the page.
    const next = await h.runJob(platform, 'items');
    assert.deepEqual((await h.finished(next)).stats, {
      fetched: 3,
      inserted: 3,
      updated: 0,
      unchanged: 0,
      deleted: 0,
    });
  });

  it('when the broker closes the job consumer’s channel while a run is under way, then the run’s redelivery is not counted as a crash (PSC_CRASH_LOOP_LIMIT 1): it succeeds once and is never given up', async (t) => {
    const h = await startHarness(t, { PSC_CRASH_LOOP_LIMIT: '1' });
    const { fake, platform, answer } = await heldPlatform(h, t);
    const jobId = await h.runJob(platform, 'items');
    await waitFor(() => fake.requests.length >= 1, { message: 'the run is under way' });
    // What a consumer timeout or a dropped connection does: the delivery comes back redelivered.
    assert.equal(await closeConsumerChannels(h.vhost, QUEUES.syncJobs), 1);
    answer();
    const done = await h.finished(jobId);
    assert.deepEqual(done.stats, {
      fetched: 3,
      inserted: 3,
      updated: 0,
      unchanged: 0,
      deleted: 0,
    });
    // The delivery came back and was seen (counted, and taken back by the channel's loss).
    await waitFor(
      async () => {
        const rows = await h.knex
          .withSchema('sync')
          .table('job_crashes')
          .where({ job_id: jobId })
          .select('crashes');
        return rows.length === 1 && (rows[0] as { crashes: number }).crashes === 0;
      },
      { message: 'the redelivery was counted and not held against the run' },
    );
    await waitFor(() => h.app.jobs.inFlight() === 0, { message: 'every delivery settled' });
    assert.deepEqual(h.eventsOf('job.failed', jobId), [], 'not given up as a crash loop');
    assert.equal(h.eventsOf('job.succeeded', jobId).length, 1);
  });
});
