import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  QUEUE_SPECS,
  backfillCancel,
  backfillCreate,
  backfillGet,
  jobFailed,
  jobList,
  jobStarted,
  jobSucceeded,
  schedulerControl,
} from '@psc/contracts';
import { AppError } from '@psc/core';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary } from './support.ts';

interface JobRow {
  id: string;
  run: number;
  status: string;
  params: { date: string };
  trigger: string;
}

const stats = { fetched: 1, inserted: 1, updated: 0, unchanged: 0 };

describe('backfills: bounded concurrency, idempotent steps, cancel', { timeout: 120_000 }, () => {
  const clock = manualClock('2030-01-10T00:00:00.000Z');
  const platform = platformSummary({
    resources: [{ name: 'races', tasks: ['collect'], params: ['date'] }],
  });
  let s: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    s = await startInProcess('scheduler-backfill', clock);
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
  });
  after(async () => {
    await s?.stop();
  });

  const send: typeof s.mq.publish = (def, payload) => s.mq.publish(def, payload);
  const rows = (backfillId: string) =>
    s
      .jobs()
      .where({ backfill_id: backfillId })
      .orderBy('scheduled_for')
      .select<JobRow[]>('id', 'run', 'status', 'params', 'trigger');
  const succeed = async (jobs: Pick<JobRow, 'id' | 'run'>[]) => {
    const at = clock.now().toISOString();
    for (const { id: jobId, run } of jobs) {
      await send(jobStarted, { jobId, run, attempt: 1, at, workerId: 'w' });
      await send(jobSucceeded, { jobId, run, attempt: 1, at, stats });
    }
    await waitFor(
      async () => {
        const now = await s
          .jobs()
          .whereIn(
            'id',
            jobs.map((j) => j.id),
          )
          .select('status');
        return now.every((r: { status: string }) => r.status === 'succeeded');
      },
      { message: 'reports applied' },
    );
  };
  const request = (patch: Record<string, unknown> = {}) =>
    s.rpc.call(backfillCreate, {
      platformId: platform.id,
      resource: 'races',
      taskType: 'collect',
      from: '2030-01-01',
      to: '2030-01-05',
      step: 'day',
      timezone: 'UTC',
      paramsTemplate: { date: '{{date:yyyyMMdd}}', label: 'day before {{yesterday}}' },
      maxConcurrent: 2,
      ...patch,
    });

  /** A backfill of four days from `from` to `to`, all four runs opened at once. */
  const fourDaysOpen = async (from: string, to: string) => {
    const first = await request({ from, to, maxConcurrent: 4 });
    await s.step(1_000);
    await s.step(1_000);
    const days = await rows(first.id);
    assert.equal(days.length, 4);
    return { first, days };
  };
  /** A first run that started and ended without success, as its worker reports it. */
  const end = async (job: Pick<JobRow, 'id'>, outcome: 'failed' | 'dead' | 'cancelled') => {
    const at = clock.now().toISOString();
    const error = { message: 'platform answered HTTP 500', class: 'upstream_status' };
    await send(jobStarted, { jobId: job.id, run: 1, attempt: 1, at, workerId: 'w' });
    await send(jobFailed, { jobId: job.id, run: 1, attempt: 1, at, error, outcome });
  };

  it('when five days are backfilled two at a time, then no more than two runs are ever open, each day gets its params, and a second backfill of the same days runs nothing again', async () => {
    const created = await request();
    assert.equal(created.status, 'running');
    // A tick may already have opened the first runs by the time the answer is read back.
    assert.equal(created.progress.steps, 5);
    assert.equal(created.progress.pending + created.progress.queued, 5);

    const seen: string[] = [];
    for (let round = 0; round < 3; round++) {
      await s.step(1_000);
      await s.step(1_000);
      const open = (await rows(created.id)).filter((j) => j.status === 'queued');
      assert.ok(open.length <= 2, `round ${round}: ${open.length} runs open`);
      assert.ok(open.length > 0, `round ${round}: the next days started`);
      seen.push(...open.map((j) => j.params.date));
      await succeed(open);
    }
    assert.deepEqual(seen, ['20300101', '20300102', '20300103', '20300104', '20300105']);
    const first = (await rows(created.id))[0]!;
    assert.deepEqual(first.params, { date: '20300101', label: 'day before 2029-12-31' });
    assert.equal(first.trigger, 'backfill');
    const done = await s.rpc.call(backfillGet, { id: created.id });
    assert.equal(done.status, 'succeeded');
    assert.equal(done.progress.succeeded, 5);
    const [last] = await s
      .jobs()
      .where({ backfill_id: created.id })
      .max<{ at: Date }[]>('finished_at as at');
    assert.equal(done.finishedAt, last!.at.toISOString(), 'it ended with its last run');

    const again = await request({ from: '2030-01-03', to: '2030-01-06' });
    await s.step(1_000);
    await s.step(1_000);
    await s.step(1_000);
    const mine = await rows(again.id);
    assert.deepEqual(
      mine.map((j) => j.params.date),
      ['20300106'],
      'only the day no run had yet',
    );
    const view = await s.rpc.call(backfillGet, { id: again.id });
    assert.equal(view.progress.succeeded, 3, 'the three days it found already done');
    assert.equal(view.progress.queued, 1);
    await succeed(mine);
  });

  it('when days of a backfill failed, died or were cancelled, then a second backfill runs each again as its next run with its own params, out of the dead-letter queue, and leaves the day that succeeded alone', async () => {
    const { first, days } = await fourDaysOpen('2029-10-01', '2029-10-04');
    const [ok, failed, dead, cancelled] = days as [JobRow, JobRow, JobRow, JobRow];
    await succeed([ok]);
    await end(failed, 'failed');
    await end(dead, 'dead');
    await end(cancelled, 'cancelled');
    const letters = () =>
      s.knex
        .withSchema('scheduler')
        .table('dead_letters')
        .whereIn('job_id', [failed.id, dead.id])
        .select('job_id');
    await waitFor(async () => (await letters()).length === 2, { message: 'two dead letters' });
    await waitFor(
      async () => (await s.rpc.call(backfillGet, { id: first.id })).status === 'failed',
      { message: 'the first backfill failed' },
    );

    const second = await request({
      from: '2029-10-01',
      to: '2029-10-04',
      maxConcurrent: 4,
      paramsTemplate: { date: '{{date:yyyy-MM-dd}}' },
    });
    await s.step(1_000);
    await s.step(1_000);
    const again = await rows(second.id);
    assert.deepEqual(
      again.map((j) => [j.id, j.run, j.status, j.trigger, j.params]),
      [
        [failed.id, 2, 'queued', 'backfill', { date: '2029-10-02' }],
        [dead.id, 2, 'queued', 'backfill', { date: '2029-10-03' }],
        [cancelled.id, 2, 'queued', 'backfill', { date: '2029-10-04' }],
      ],
      'the same jobs, as their second run, with the second backfill’s params',
    );
    const untouched = (await s.jobs().where({ id: ok.id }).first()) as JobRow;
    assert.equal(untouched.run, 1);
    assert.equal(untouched.status, 'succeeded');
    assert.deepEqual(await letters(), [], 'the replayed runs left the dead-letter queue');
    const view = await s.rpc.call(backfillGet, { id: second.id });
    assert.equal(view.status, 'running');
    assert.equal(view.progress.succeeded, 1);
    assert.equal(view.progress.queued, 3);
    // Each backfill lists the runs of its days: the first still lists the jobs it started, now
    // in their second run; the second lists those and the day it found done.
    const listed = async (backfillId: string) =>
      (await s.rpc.call(jobList, { backfillId, limit: 50 })).items.map((j) => j.id).sort();
    const all = days.map((j) => j.id).sort();
    assert.deepEqual(await listed(first.id), all);
    assert.deepEqual(await listed(second.id), all);

    const now = clock.now().toISOString();
    for (const job of again) {
      await send(jobStarted, { jobId: job.id, run: 2, attempt: 1, at: now, workerId: 'w' });
      await send(jobSucceeded, { jobId: job.id, run: 2, attempt: 1, at: now, stats });
    }
    await waitFor(
      async () => (await s.rpc.call(backfillGet, { id: second.id })).status === 'succeeded',
      { message: 'the second backfill succeeded' },
    );
  });

  it('when a backfill runs again days that failed, then their runs count toward its maxConcurrent, and the earlier backfill’s status follows them', async () => {
    const { first, days } = await fourDaysOpen('2029-09-01', '2029-09-04');
    for (const job of days) await end(job, 'failed');
    await waitFor(
      async () => (await s.rpc.call(backfillGet, { id: first.id })).status === 'failed',
      { message: 'the first backfill failed' },
    );
    const status = async (id: string) => {
      const { status, progress } = await s.rpc.call(backfillGet, { id });
      return { status, queued: progress.queued, failed: progress.failed };
    };

    const second = await request({ from: '2029-09-01', to: '2029-09-04', maxConcurrent: 2 });
    const reran: string[] = [];
    for (let round = 0; round < 2; round++) {
      await s.step(1_000);
      await s.step(1_000);
      await s.step(1_000);
      const open = (await rows(second.id)).filter((j) => j.status === 'queued');
      assert.deepEqual(
        open.map((j) => [j.run, j.trigger]),
        [
          [2, 'backfill'],
          [2, 'backfill'],
        ],
        `round ${round}: two reruns open, no more`,
      );
      reran.push(...open.map((j) => j.id));
      // The first backfill's days run again: it is running again, and counts them as queued.
      assert.deepEqual(await status(first.id), {
        status: 'running',
        queued: 2,
        failed: round === 0 ? 2 : 0,
      });
      await succeed(open);
    }
    assert.deepEqual(
      reran,
      days.map((j) => j.id),
      'each failed day, in step order, once',
    );
    for (const id of [second.id, first.id]) {
      await waitFor(async () => (await status(id)).status === 'succeeded', {
        message: `backfill ${id} succeeded with its days`,
      });
    }
  });

  it('when a collect backfill gives no value for a param its resource needs, then it is refused (422) naming the param, and nothing is stored', async () => {
    const before = await s.knex.withSchema('scheduler').table('backfills').count({ n: '*' });
    await assert.rejects(
      request({ paramsTemplate: { label: '{{date}}' } }),
      (err: unknown) =>
        err instanceof AppError &&
        err.status === 422 &&
        /collect run needs params: date/.test(err.message) &&
        /paramsTemplate/.test(err.message),
    );
    const after = await s.knex.withSchema('scheduler').table('backfills').count({ n: '*' });
    assert.deepEqual(after, before, 'no backfill stored');
  });

  it('when a backfill is cancelled, then its queued runs are cancelled, its running one is asked to stop and ends cancelled when the worker says so, no further day starts, and it stays cancelled', async () => {
    const { received: cancellations, stop: stopCapture } = await s.mq.captureCancellations(
      QUEUE_SPECS.collectorCancellations,
    );
    try {
      const created = await request({ from: '2029-12-01', to: '2029-12-10', maxConcurrent: 3 });
      await s.step(1_000);
      await s.step(1_000);
      const started = await rows(created.id);
      assert.equal(started.length, 3);
      const running = started[0]!;
      const at = clock.now().toISOString();
      await send(jobStarted, { jobId: running.id, run: 1, attempt: 1, at, workerId: 'w' });
      await waitFor(
        async () =>
          ((await s.jobs().where({ id: running.id }).first()) as JobRow).status === 'running',
        { message: 'the first day running' },
      );

      const cancelled = await s.rpc.call(backfillCancel, { id: created.id, reason: 'wrong range' });
      assert.equal(cancelled.status, 'cancelled');
      assert.equal(cancelled.cancelReason, 'wrong range');
      // Two queued runs cancelled, and the seven days that never got a run with them; the
      // running one goes on until its worker stops it.
      assert.deepEqual(
        [cancelled.progress.cancelled, cancelled.progress.running, cancelled.progress.pending],
        [9, 1, 0],
      );
      await waitFor(
        () =>
          started.every((j) =>
            cancellations.some(
              (c) => c.jobId === j.id && c.run === 1 && c.reason === 'wrong range',
            ),
          ),
        { message: 'job.cancel-requested for the running run and each queued one' },
      );
      await send(jobFailed, {
        jobId: running.id,
        run: 1,
        attempt: 1,
        at: clock.now().toISOString(),
        error: { message: 'cancelled: wrong range', class: 'cancelled' },
        outcome: 'cancelled',
      });
      await waitFor(
        async () => (await s.rpc.call(backfillGet, { id: created.id })).progress.cancelled === 10,
        { message: 'the stopped run counted cancelled' },
      );
      await s.step(1_000);
      await s.step(1_000);
      assert.deepEqual(
        (await rows(created.id)).map((j) => j.status),
        ['cancelled', 'cancelled', 'cancelled'],
        'no day started after the cancel',
      );
      const audit = await s.knex
        .withSchema('scheduler')
        .table('audit')
        .where({ target: `backfill:${created.id}`, action: 'backfill.cancel' });
      assert.equal(audit.length, 1);
    } finally {
      await stopCapture();
    }
  });

  it('when the scheduler is paused, then a backfill waits, and goes on after resume', async () => {
    await s.rpc.call(schedulerControl, { action: 'pause', reason: 'maintenance' });
    const created = await request({ from: '2029-11-01', to: '2029-11-02' });
    await s.step(1_000);
    await s.step(1_000);
    assert.equal((await rows(created.id)).length, 0, 'nothing starts while paused');
    await s.rpc.call(schedulerControl, { action: 'resume' });
    await s.step(1_000);
    await s.step(1_000);
    assert.equal((await rows(created.id)).length, 2);
  });
});
