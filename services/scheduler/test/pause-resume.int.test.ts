import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import {
  jobRunNow,
  jobStarted,
  jobSucceeded,
  schedulerControl,
  schedulerStatusGet,
} from '@psc/contracts';
import { waitFor } from '@psc/testing';
import { CANCEL_BATCH } from '../src/domain/cancellation.ts';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary } from './support.ts';

interface JobRow {
  id: string;
  status: string;
  scheduled_for: Date;
  platform_id: string;
}

describe('scheduler.control: pause and resume', { timeout: 90_000 }, () => {
  const clock = manualClock('2030-01-01T00:00:00.000Z');
  let s: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    s = await startInProcess('scheduler-pause', clock);
  });
  after(async () => {
    await s?.stop();
  });

  it('when paused for 10 s, then no job is emitted while in-flight ones finish, and resume with run_once adds exactly one catch-up run per schedule', async () => {
    const schedule = {
      sync: {
        enabled: true,
        intervalSeconds: 1,
        overlap: 'enqueue' as const,
        misfire: 'run_once' as const,
      },
    };
    const platforms = [platformSummary({ schedule }), platformSummary({ schedule })];
    for (const p of platforms) await s.mq.announce(p);
    for (const p of platforms) await s.waitForPlatform(p.id);
    await s.step(0); // schedules start on the next second
    // A tick that ran before the platforms reached the projection satisfies step(0) too: wait
    // until both schedules exist before counting their runs.
    await waitFor(
      async () => {
        const rows = (await s.knex
          .withSchema('scheduler')
          .table('schedules')
          .whereIn(
            'platform_id',
            platforms.map((p) => p.id),
          )) as unknown[];
        return rows.length === 2;
      },
      { message: 'both schedules created' },
    );
    for (let i = 0; i < 3; i++) await s.step(1_000);
    const before = (await s.jobs()) as JobRow[];
    assert.equal(before.length, 6, 'three runs of each schedule');

    const pausedAt = clock.now();
    const status = await s.rpc.call(schedulerControl, {
      action: 'pause',
      reason: 'db maintenance',
    });
    assert.equal(status.state, 'paused');
    assert.equal(status.reason, 'db maintenance');

    // A job already queued runs to the end while the scheduler is paused.
    const inFlight = before[0]!;
    const at = new Date().toISOString();
    await s.mq.publish(jobStarted, { jobId: inFlight.id, run: 1, attempt: 1, at, workerId: 'w1' });
    await s.mq.publish(jobSucceeded, {
      jobId: inFlight.id,
      run: 1,
      attempt: 1,
      at,
      stats: { fetched: 1, inserted: 1, updated: 0, unchanged: 0 },
    });
    for (let i = 0; i < 10; i++) await s.step(1_000);
    assert.equal(((await s.jobs()) as JobRow[]).length, 6, 'nothing emitted for 10 s of pause');
    await waitFor(
      async () =>
        ((await s.jobs().where({ id: inFlight.id }).first()) as JobRow).status === 'succeeded',
      { message: 'in-flight job finished' },
    );
    const audit = (await s.knex
      .withSchema('scheduler')
      .table('audit')
      .where({ action: 'pause' })) as {
      reason: string;
    }[];
    assert.equal(audit[0]?.reason, 'db maintenance');
    assert.equal((await s.rpc.call(schedulerStatusGet, {})).reason, 'db maintenance');

    const resumed = await s.rpc.call(schedulerControl, { action: 'resume' });
    assert.equal(resumed.state, 'running');
    const resumedAt = clock.now();
    await s.step(1_000);
    await s.step(1_000);
    const rows = (await s.jobs()) as JobRow[];
    for (const p of platforms) {
      const mine = rows.filter((r) => r.platform_id === p.id);
      const catchUp = mine.filter((r) => r.scheduled_for > pausedAt && r.scheduled_for < resumedAt);
      assert.equal(catchUp.length, 1, 'exactly one catch-up run for the paused stretch');
      const after = mine.filter((r) => r.scheduled_for >= resumedAt);
      assert.equal(after.length, 3, 'on-time runs continue from the resume on');
      assert.equal(new Set(mine.map((r) => r.scheduled_for.getTime())).size, mine.length);
    }
  });

  it('when stopped with a reason, then queued jobs are cancelled and nothing new is emitted', async () => {
    const stopped = await s.rpc.call(schedulerControl, { action: 'stop', reason: 'incident 42' });
    assert.equal(stopped.state, 'stopped');
    const queued = (await s.jobs().where({ status: 'queued' })) as JobRow[];
    assert.equal(queued.length, 0);
    const cancelled = (await s.jobs().where({ status: 'cancelled' })) as JobRow[];
    assert.ok(cancelled.length > 0);
    const total = ((await s.jobs()) as JobRow[]).length;
    await s.step(1_000);
    await s.step(1_000);
    assert.equal(((await s.jobs()) as JobRow[]).length, total);
    assert.equal((await s.rpc.call(schedulerControl, { action: 'start' })).state, 'running');
  });
  it('when stopped while a tick that planned before the stop writes its runs, then that tick writes none, and start brings the schedules back', async () => {
    await s.step(1_000);
    const before = ((await s.jobs()) as JobRow[]).length;
    const at = await s.stopWhileTickWrites(1_000, (trx, at) =>
      trx
        .withSchema('scheduler')
        .table('control')
        .where({ id: 1 })
        .update({ state: 'stopped', reason: 'incident 43', changed_at: at }),
    );
    const made = (await s.jobs()) as JobRow[];
    assert.deepEqual(
      made.filter((j) => j.scheduled_for?.getTime() === at.getTime()),
      [],
      'no run of the tick that planned before the stop',
    );
    assert.equal(made.length, before);
    assert.equal((await s.rpc.call(schedulerControl, { action: 'start' })).state, 'running');
    await s.step(1_000);
    await s.step(1_000);
    assert.ok(((await s.jobs()) as JobRow[]).length > before, 'running again');
  });
  it('when stopped with more jobs queued than one batch, then the stop answers after the first batch and the next ticks cancel the rest, never a job queued after the stop', async () => {
    const platform = platformSummary();
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
    const runNow = async (count: number) => {
      for (let left = count; left > 0; left -= 500) {
        await s.rpc.call(jobRunNow, {
          requests: Array.from({ length: Math.min(500, left) }, () => ({
            platformId: platform.id,
            resource: 'booths',
            taskType: 'sync' as const,
            params: {},
          })),
        });
      }
    };
    // Every platform's queued jobs count: the stop cancels them all, oldest first.
    const queuedOf = async () => (await s.jobs().where({ status: 'queued' })) as JobRow[];
    const backlog = CANCEL_BATCH + 300;
    await runNow(backlog);
    const before = (await queuedOf()).length;
    assert.ok(before >= backlog);

    const stopped = await s.rpc.call(schedulerControl, { action: 'stop', reason: 'big backlog' });
    assert.equal(stopped.state, 'stopped');
    assert.equal((await queuedOf()).length, before - CANCEL_BATCH, 'the first batch only');

    // Queued while stopped (run-now still works): not the stop's to cancel.
    await s.step(1_000);
    await runNow(1);
    await s.step(1_000);
    const left = await queuedOf();
    assert.equal(left.length, 1, 'the next tick cancelled the rest of what the stop found');
    const cancelled = (await s
      .jobs()
      .where({ status: 'cancelled', platform_id: platform.id })) as (JobRow & {
      error: { message: string };
    })[];
    assert.equal(cancelled.length, backlog);
    assert.ok(cancelled.every((j) => j.error.message === 'scheduler stopped: big backlog'));
    assert.equal((await s.rpc.call(schedulerControl, { action: 'start' })).state, 'running');
  });
});
