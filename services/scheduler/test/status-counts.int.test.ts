import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { schedulerStatusGet, type JobStatus } from '@psc/contracts';
import { DEAD_LETTER_COUNT_CAP } from '../src/domain/scheduler-control.ts';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary } from './support.ts';

const MINUTE_MS = 60_000;

describe('scheduler.status: job and dead-letter counts', { timeout: 60_000 }, () => {
  const clock = manualClock('2030-01-01T12:00:00.000Z');
  let s: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    s = await startInProcess('scheduler-status-counts', clock);
  });
  after(async () => {
    await s?.stop();
  });

  it('when the ledger holds jobs in flight and jobs that ended over the last days, then the status counts those in flight by status and those that ended in the last hour, every status present', async () => {
    const platform = platformSummary();
    await s.mq.announce(platform);
    await s.waitForPlatform(platform.id);
    const now = clock.now().getTime();
    const job = (status: JobStatus, finishedMinutesAgo?: number) => {
      const at = new Date(now - (finishedMinutesAgo ?? 0) * MINUTE_MS - MINUTE_MS);
      return {
        id: randomUUID(),
        platform_id: platform.id,
        resource: 'items',
        task_type: 'sync',
        status,
        priority: 5,
        trigger: 'api',
        created_at: at,
        updated_at: at,
        finished_at:
          finishedMinutesAgo === undefined ? null : new Date(now - finishedMinutesAgo * MINUTE_MS),
      };
    };
    await s.jobs().insert([
      job('queued'),
      job('queued'),
      job('running'),
      job('waiting'),
      job('succeeded', 5),
      job('succeeded', 59),
      job('failed', 30),
      job('cancelled', 1),
      // Ended more than an hour ago: part of the retained ledger, not of the last hour.
      job('succeeded', 61),
      job('dead', 120),
      job('failed', 3 * 24 * 60),
    ]);

    const status = await s.rpc.call(schedulerStatusGet, {});
    assert.deepEqual(status.counts.jobs, { queued: 2, running: 1, retrying: 0, waiting: 1 });
    assert.deepEqual(status.counts.finishedLastHour, {
      succeeded: 2,
      failed: 1,
      dead: 0,
      cancelled: 1,
    });

    // An hour on, what ended then has left the window; what is in flight is still counted.
    clock.advance(60 * MINUTE_MS);
    const later = await s.rpc.call(schedulerStatusGet, {});
    assert.deepEqual(later.counts.finishedLastHour, {
      succeeded: 0,
      failed: 0,
      dead: 0,
      cancelled: 0,
    });
    assert.equal(later.counts.jobs.queued, 2);
  });

  it('when dead letters pile up past 10,000, then the status counts them up to 10,000 and says there are more', async () => {
    assert.deepEqual((await s.rpc.call(schedulerStatusGet, {})).counts.deadLetters, {
      count: 0,
      atLeast: false,
    });
    const letters = (n: number) =>
      s.knex.raw(
        `INSERT INTO scheduler.dead_letters (id, queue, reason, attempts, dead_at)
         SELECT gen_random_uuid(), 'sync-worker.jobs', 'unreadable', 0, now() FROM generate_series(1, ?)`,
        [n],
      );
    await letters(3);
    assert.deepEqual((await s.rpc.call(schedulerStatusGet, {})).counts.deadLetters, {
      count: 3,
      atLeast: false,
    });
    await letters(DEAD_LETTER_COUNT_CAP - 3);
    assert.deepEqual((await s.rpc.call(schedulerStatusGet, {})).counts.deadLetters, {
      count: DEAD_LETTER_COUNT_CAP,
      atLeast: false,
    });
    await letters(1);
    assert.deepEqual((await s.rpc.call(schedulerStatusGet, {})).counts.deadLetters, {
      count: DEAD_LETTER_COUNT_CAP,
      atLeast: true,
    });
  });
});
