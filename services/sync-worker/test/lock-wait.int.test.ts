import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFakePlatform, waitFor } from '@psc/testing';
import { itemsResource, startHarness } from './support/harness.ts';

describe('sync-worker.jobs: record rows locked by another transaction', { timeout: 60_000 }, () => {
  it('when another transaction holds the resource’s record rows past PSC_LOCK_TIMEOUT_MS, then the job is held (no attempt spent, no crash counted: PSC_CRASH_LOOP_LIMIT 1) until the lock goes, and then succeeds on its first attempt', async (t) => {
    const h = await startHarness(t, { PSC_LOCK_TIMEOUT_MS: '300', PSC_CRASH_LOOP_LIMIT: '1' });
    const fake = await startFakePlatform({
      collections: { '/items': [{ id: 'i1' }, { id: 'i2' }, { id: 'i3' }] },
    });
    t.after(() => fake.stop());
    const platform = h.addPlatform({ baseUrl: fake.url, resources: [itemsResource('items')] });
    const first = await h.finished(await h.runJob(platform, 'items'));
    assert.ok(first.stats, 'the first sync stored the records');
    const held: unknown[] = [];
    h.app.jobs.on('held', (e) => held.push(e));

    // As a frozen worker's transaction would: the rows the next sync upserts stay locked.
    const locker = await h.knex.transaction();
    let jobId: string;
    try {
      const locked = await locker.raw<{ rows: unknown[] }>(
        `select key from sync.records where platform_id = ? and resource = 'items' for update`,
        [platform.id],
      );
      assert.equal(locked.rows.length, 3);
      jobId = await h.runJob(platform, 'items');
      await waitFor(() => held.length >= 2, {
        timeoutMs: 20_000,
        message: 'the job held again and again while the rows are locked',
      });
      assert.deepEqual(h.eventsOf('job.succeeded', jobId), [], 'it has not run past the lock');
      assert.deepEqual(h.eventsOf('job.failed', jobId), [], 'a lock wait is not a failed attempt');
      await locker.commit();
    } finally {
      // The harness closes the pool after the test: the lock must not outlive a failure.
      if (!locker.isCompleted()) await locker.rollback();
    }

    const done = await h.finished(jobId, 30_000);
    assert.equal(done.attempt, 1, 'it succeeded on its first attempt');
    assert.equal((done.stats as { inserted: number } | undefined)?.inserted, 0, 'nothing new');
    assert.deepEqual(h.eventsOf('job.failed', jobId), [], 'never failed, never given up');
    assert.ok(fake.requests.length >= 1 + 3, 'each hold fetched the page again');
  });
});
