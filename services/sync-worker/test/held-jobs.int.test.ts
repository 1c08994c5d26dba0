import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { startFakePlatform, waitFor } from '@psc/testing';
import { heldPlatform, itemsResource, startHarness } from './support/harness.ts';

describe('sync-worker.jobs: jobs held next in line', { timeout: 60_000 }, () => {
  it('when a slow platform’s job takes the only slot of one replica, then another platform’s job that replica took next in line runs on an idle replica once it has waited PSC_HAND_BACK_MS, while the slow one still runs; both succeed once', async (t) => {
    const h = await startHarness(t, {
      PSC_WORKER_CONCURRENCY: '1',
      PSC_WORKER_PREFETCH: '2',
      PSC_HAND_BACK_MS: '500',
      PSC_WORKER_ID: 'worker-a',
    });
    const slow = await heldPlatform(h, t);
    const quickFake = await startFakePlatform({ collections: { '/items': [{ id: 'q1' }] } });
    t.after(() => quickFake.stop());
    const quick = h.addPlatform({ baseUrl: quickFake.url, resources: [itemsResource('items')] });

    const slowJob = await h.runJob(slow.platform, 'items');
    await waitFor(() => slow.fake.requests.length === 1, { message: 'the slow job calls out' });
    const quickJob = await h.runJob(quick, 'items');
    await waitFor(() => h.app.jobs.inFlight() === 2, {
      message: 'replica A holds the quick job next in line',
    });

    await h.addReplica({ PSC_WORKER_ID: 'worker-b' });
    await h.finished(quickJob, 10_000);
    assert.equal(h.eventsOf('job.succeeded', quickJob).length, 1, 'the quick job succeeded');
    assert.equal(slow.fake.requests.length, 1, 'the slow job is still waiting for its page');
    assert.deepEqual(h.eventsOf('job.succeeded', slowJob), [], 'and has not ended');

    slow.answer();
    await h.finished(slowJob);
    assert.equal(h.eventsOf('job.succeeded', slowJob).length, 1);
    assert.equal(h.eventsOf('job.succeeded', quickJob).length, 1);
    assert.deepEqual(h.eventsOf('job.failed'), [], 'no attempt failed or timed out');
    assert.equal(quickFake.requests.length, 1, 'the quick job ran once');
    const handedBack = await h.metrics.getSingleMetric('psc_jobs_handed_back_total')?.get();
    assert.deepEqual(
      handedBack?.values.map((v) => [v.labels.queue, v.value]),
      [['sync-worker.jobs', 1]],
      'replica A counted the one it put back',
    );
  });
});
