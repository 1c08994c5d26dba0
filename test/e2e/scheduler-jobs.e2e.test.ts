import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { boothSample, startFakePlatform, waitFor, type FakePlatform } from '@psc/testing';
import { captureEvents, outboxDepth, type EventCapture } from '../support/event-capture.ts';
import { startSystem, type System } from '../support/system.ts';
import { boothPlatform, type JobView } from '../support/platforms.ts';

interface OnceBody {
  jobs: JobView[];
  finished: boolean;
}
interface ErrorBody {
  error: { code: string; message: string; traceId?: string };
}

describe('POST /api/v1/platforms/{id}/sync/once and POST /api/v1/jobs/{id}/cancel', () => {
  let system: System;
  let platform: FakePlatform;
  let platformId: string;
  let cancels: EventCapture;
  let finishedJob: JobView;

  before(async () => {
    platform = await startFakePlatform({ collections: { '/booth/all': boothSample(12) } });
    system = await startSystem({
      name: 'scheduler-jobs',
      services: ['platform-registry', 'scheduler', 'sync-worker', 'gateway'],
    });
    cancels = await captureEvents(system.env.vhost, 'job.cancel-requested');
    const created = await system.api<{ id: string }>('/api/v1/platforms', {
      body: boothPlatform(platform.url),
    });
    assert.equal(created.status, 201);
    platformId = created.body.id;
  });

  after(async () => {
    await system?.stop();
    await platform?.stop();
  });

  it('when a sync-worker runs the job within the wait, then once?wait=30 answers 200 with the finished job', async () => {
    const once = await system.api<OnceBody>(`/api/v1/platforms/${platformId}/sync/once?wait=30`, {
      method: 'POST',
    });
    assert.equal(once.status, 200, JSON.stringify(once.body));
    assert.equal(once.body.finished, true);
    assert.equal(once.body.jobs.length, 1);
    finishedJob = once.body.jobs[0]!;
    assert.equal(finishedJob.status, 'succeeded');
    assert.equal(finishedJob.stats?.fetched, 12);
    assert.ok(platform.requests.some((r) => r.path.startsWith('/booth/all')));
    const status = await system.api<{ lastJob: { id: string } | null; lastUpdate: string | null }>(
      `/api/v1/platforms/${platformId}/sync/status`,
    );
    assert.equal(status.body.lastJob?.id, finishedJob.id);
    assert.ok(status.body.lastUpdate, 'the finished sync is the last update');
  });

  it('when a finished job is cancelled, then it is 409 and nothing is published', async () => {
    const res = await system.api<ErrorBody>(`/api/v1/jobs/${finishedJob.id}/cancel`, {
      method: 'POST',
    });
    assert.equal(res.status, 409);
    assert.equal(res.body.error.code, 'conflict');
    assert.match(res.body.error.message, /already succeeded/);
    const unknown = await system.api<ErrorBody>(
      '/api/v1/jobs/00000000-0000-4000-8000-000000000000/cancel',
      { method: 'POST' },
    );
    assert.equal(unknown.status, 404);
    assert.equal(unknown.body.error.code, 'not_found');
    assert.deepEqual(await cancels.drain(), []);
  });

  it('when no worker finishes the job within the wait, then once?wait=1 answers 202 with the queued job, and cancelling it publishes exactly one job.cancel-requested', async () => {
    await system.services.get('sync-worker')!.process.stop();
    const once = await system.api<OnceBody>(`/api/v1/platforms/${platformId}/sync/once?wait=1`, {
      method: 'POST',
    });
    assert.equal(once.status, 202);
    assert.equal(once.body.finished, false);
    const queued = once.body.jobs[0]!;
    assert.equal(queued.status, 'queued');

    const cancelled = await system.api<JobView>(`/api/v1/jobs/${queued.id}/cancel`, {
      body: { reason: 'wrong platform' },
    });
    assert.equal(cancelled.status, 200);
    assert.equal(cancelled.body.status, 'cancelled');
    const read = await system.api<JobView>(`/api/v1/jobs/${queued.id}`);
    assert.equal(read.body.status, 'cancelled');
    assert.ok(read.body.finishedAt);
    assert.equal(read.body.error?.message, 'wrong platform');

    await waitFor(async () => (await outboxDepth(system.env.databaseUrl, 'scheduler')) === 0, {
      message: 'scheduler outbox relayed',
    });
    const events = await waitFor(
      async () => {
        const got = await cancels.drain();
        return got.length > 0 ? got : undefined;
      },
      { message: 'job.cancel-requested published' },
    );
    const again = await system.api(`/api/v1/jobs/${queued.id}/cancel`, { method: 'POST' });
    assert.equal(again.status, 409, 'a cancelled job is finished');
    events.push(...(await cancels.drain()));
    assert.equal(events.length, 1, JSON.stringify(events));
    assert.equal(events[0]!.type, 'job.cancel-requested');
    assert.equal(events[0]!.payload.jobId, queued.id);
    assert.equal(events[0]!.payload.reason, 'wrong platform');
  });
  it('GET /api/v1/jobs/{id}: when 40 reads arrive at once, of different jobs and of unknown ids, then each answers its own job, each unknown id its own 404, and a read after a cancel sees it', async () => {
    // The sync-worker is stopped (previous case): these stay queued.
    const queued: string[] = [];
    for (let i = 0; i < 8; i++) {
      const run = await system.api<{ jobs: { id: string }[] }>('/api/v1/run/sync', {
        body: { platformId, resource: 'booths' },
      });
      assert.equal(run.status, 202);
      queued.push(run.body.jobs[0]!.id);
    }
    const [cancelledId, ...stillQueued] = queued as [string, ...string[]];
    const cancel = await system.api<JobView>(`/api/v1/jobs/${cancelledId}/cancel`, {
      method: 'POST',
    });
    assert.equal(cancel.status, 200);
    const expected = new Map<string, string | undefined>([
      [finishedJob.id, 'succeeded'],
      [cancelledId, 'cancelled'],
      ...stillQueued.map((id): [string, string] => [id, 'queued']),
      ...Array.from({ length: 4 }, (): [string, undefined] => [crypto.randomUUID(), undefined]),
    ]);
    const ids = [...expected.keys()];
    const asked = Array.from({ length: 40 }, (_, i) => ids[(i * 7) % ids.length]!);
    const answers = await Promise.all(
      asked.map((id) => system.api<JobView & ErrorBody>(`/api/v1/jobs/${id}`)),
    );
    answers.forEach((res, i) => {
      const id = asked[i]!;
      const status = expected.get(id);
      if (status === undefined) {
        assert.equal(res.status, 404, `${id}: ${JSON.stringify(res.body)}`);
        assert.equal(res.body.error.code, 'not_found');
        assert.equal(res.body.error.message, `job ${id} not found`);
        return;
      }
      assert.equal(res.status, 200, `${id}: ${JSON.stringify(res.body)}`);
      assert.equal(res.body.id, id);
      assert.equal(res.body.status, status);
      if (status === 'cancelled') assert.equal(res.body.error?.message, 'cancelled by operator');
    });
    assert.equal(new Set(asked).size, ids.length, 'every id was asked');
  });
});
