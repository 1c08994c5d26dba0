import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { boothSample, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform, type JobView } from '../support/platforms.ts';

describe('sync-worker graceful stop', () => {
  let system: System;
  let platform: FakePlatform;

  before(async () => {
    platform = await startFakePlatform({ collections: { '/booth/all': boothSample(100) } });
    system = await startSystem({ name: 'graceful-stop' });
  });
  after(async () => {
    await system?.stop();
    await platform?.stop();
  });

  it('when a sync-worker gets SIGTERM mid-job, then it finishes the job once, keeps every record once and exits 0', async () => {
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(platform.url),
    });
    assert.equal(created.status, 201);
    const platformId = created.body.id;
    platform.setLatency(200); // ten pages of ten: about two seconds of work
    const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
      body: { platformId, resource: 'booths' },
    });
    const jobId = run.body.jobs[0]!.id;
    await waitFor(
      async () => (await system.api<JobView>(`/api/v1/jobs/${jobId}`)).body.status === 'running',
      {
        timeoutMs: 15_000,
        intervalMs: 20,
        message: 'job running',
      },
    );
    await waitFor(() => platform.requests.length >= 2, {
      message: 'job mid-way through its pages',
    });

    const worker = system.services.get('sync-worker')!.process;
    assert.ok(worker.kill('SIGTERM'));
    const exit = await worker.exited;
    assert.equal(exit.code, 0, worker.lines().slice(-10).join('\n'));

    const job = await waitFor(
      async () => {
        const { body } = await system.api<JobView>(`/api/v1/jobs/${jobId}`);
        return body.status === 'succeeded' ? body : undefined;
      },
      { timeoutMs: 15_000, message: 'job succeeded after the worker stopped' },
    );
    assert.equal(job.attempts, 1);
    assert.deepEqual(job.stats, {
      fetched: 100,
      inserted: 100,
      updated: 0,
      unchanged: 0,
      deleted: 0,
    });
    assert.equal(
      platform.requests.length,
      11,
      'each page fetched once (10 full pages and the empty end)',
    );

    // A fresh worker finds nothing left to redo: the same job is not run twice.
    platform.setLatency(0);
    await system.start('sync-worker');
    const records = await system.api<{ items: { key: string }[]; nextCursor: string | null }>(
      `/api/v1/data/${platformId}/booths?limit=500`,
    );
    assert.equal(records.body.items.length, 100);
    assert.equal(new Set(records.body.items.map((i) => i.key)).size, 100);
    assert.equal(platform.requests.length, 11);
    assert.equal((await system.api<JobView>(`/api/v1/jobs/${jobId}`)).body.attempts, 1);
  });
});
