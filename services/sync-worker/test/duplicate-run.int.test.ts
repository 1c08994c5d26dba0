import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { describe, it } from 'node:test';
import { startFakePlatform, waitFor, type Item } from '@psc/testing';
import { startHarness } from './support/harness.ts';

const items = (n: number): Item[] => Array.from({ length: n }, (_, i) => ({ id: `i${i + 1}` }));

describe('sync-worker.jobs: two copies of one run', { timeout: 60_000 }, () => {
  it('when two copies of the same run race on one worker, then the second finds the first’s record and is acked as already done: one success, no failed attempt, every item inserted once', async (t) => {
    const h = await startHarness(t, { PSC_WORKER_PREFETCH: '4', PSC_MAX_ATTEMPTS: '1' });
    const fake = await startFakePlatform({ collections: { '/items': items(20) } });
    t.after(() => fake.stop());
    // Slow pages keep both copies inside their transactions at the same time.
    fake.setLatency(300);
    const platform = h.addPlatform({
      baseUrl: fake.url,
      resources: [
        {
          name: 'items',
          request: { path: '/items' },
          pagination: { type: 'page', pageSize: 5 },
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
    await waitFor(() => fake.requests.length >= 8, { message: 'both copies fetched' });
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
});
