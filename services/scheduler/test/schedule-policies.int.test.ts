import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import {
  jobFailed,
  jobGet,
  jobStarted,
  jobSucceeded,
  platformSyncControl,
  platformSyncStatusGet,
  schedulerStatusGet,
} from '@psc/contracts';
import { waitFor } from '@psc/testing';
import { manualClock, startInProcess } from './in-process.ts';
import { platformSummary } from './support.ts';

interface JobRow {
  id: string;
  platform_id: string;
  status: string;
  scheduled_for: Date;
  created_at: Date;
}

const DAY = 86_400_000;

describe('scheduler tick: jitter, retention purge and auto-pause', { timeout: 120_000 }, () => {
  const clock = manualClock('2030-01-01T00:00:00.000Z');
  let s: Awaited<ReturnType<typeof startInProcess>>;

  before(async () => {
    s = await startInProcess('scheduler-policies', clock, {
      PSC_JOB_RETENTION_DAYS: '30',
      PSC_JOB_PURGE_BATCH: '100',
    });
  });
  after(async () => {
    await s?.stop();
  });

  it('when schedules have a jitter, then each run lands within [due, due + jitter] with the same delay for every run of a schedule, even with misfire skip', async () => {
    const schedule = {
      sync: {
        enabled: true,
        intervalSeconds: 60,
        jitterSeconds: 30,
        overlap: 'enqueue' as const,
        misfire: 'skip' as const,
      },
    };
    const platforms = [1, 2, 3].map(() => platformSummary({ schedule }));
    for (const p of platforms) await s.mq.announce(p);
    for (const p of platforms) await s.waitForPlatform(p.id);
    const start = await s.step(0);
    // Walk each minute's jitter window second by second (and skip the quiet rest).
    for (let minute = 1; minute <= 3; minute++) {
      await s.step(start.getTime() + minute * 60_000 - 1_000 - clock.now().getTime());
      for (let i = 0; i < 32; i++) await s.step(1_000);
    }

    const rows = (await s.jobs().whereIn(
      'platform_id',
      platforms.map((p) => p.id),
    )) as JobRow[];
    const delays = new Set<number>();
    for (const p of platforms) {
      const mine = rows.filter((r) => r.platform_id === p.id);
      assert.deepEqual(
        mine.map((r) => r.scheduled_for.getTime() - start.getTime()).sort((a, b) => a - b),
        [60_000, 120_000, 180_000],
        'one run per minute, none skipped or doubled',
      );
      const mineDelays = new Set(
        mine.map((r) => r.created_at.getTime() - r.scheduled_for.getTime()),
      );
      assert.equal(mineDelays.size, 1, 'the same jitter for every run of one schedule');
      const [delay] = [...mineDelays];
      assert.ok(delay! >= 0 && delay! <= 30_000, `delay ${delay} within [0, 30 s]`);
      delays.add(delay!);
    }
    // The ledger tells which leader, under which lease, enqueued a scheduled run.
    const job = await s.rpc.call(jobGet, { id: rows[0]!.id });
    assert.deepEqual(job.emittedBy, { replicaId: 'in-process', fencingToken: 1 });
    assert.ok(
      [...delays].some((d) => d > 0),
      `jitter delays runs: ${[...delays].join(', ')}`,
    );
  });

  it('when finished jobs are older than PSC_JOB_RETENTION_DAYS, then they are purged in batches and queued, running and recent ones are kept', async () => {
    const now = clock.now();
    const base = {
      platform_id: randomUUID(),
      resource: 'booths',
      task_type: 'sync',
      priority: 5,
      trigger: 'api',
      params: '{}',
    };
    const row = (status: string, ageDays: number, finished: boolean) => {
      const at = new Date(now.getTime() - ageDays * DAY);
      return {
        ...base,
        id: randomUUID(),
        status,
        created_at: at,
        updated_at: at,
        finished_at: finished ? at : null,
      };
    };
    const old = ['succeeded', 'failed', 'dead', 'cancelled'].flatMap((status) =>
      Array.from({ length: 90 }, () => row(status, 31, true)),
    );
    const kept = [
      row('queued', 40, false),
      row('running', 40, false),
      row('retrying', 40, false),
      row('succeeded', 29, true),
      row('failed', 29, true),
    ];
    await s.jobs().insert([...old, ...kept]);

    // What every replica does once a minute, in batches of PSC_JOB_PURGE_BATCH (100 here).
    assert.deepEqual(await s.app.purgeOld(), { 'finished jobs': old.length });
    const left = ((await s.jobs().where({ platform_id: base.platform_id })) as JobRow[]).map(
      (r) => r.id,
    );
    assert.deepEqual(left.sort(), kept.map((r) => r.id).sort());
  });

  it('when a schedule fails autoPauseAfterFailures runs in a row, then it pauses itself with that reason, shown in status, while others keep running', async () => {
    const schedule = {
      sync: {
        enabled: true,
        intervalSeconds: 1,
        overlap: 'enqueue' as const,
        autoPauseAfterFailures: 2,
      },
    };
    const flaky = platformSummary({ schedule });
    const healthy = platformSummary({ schedule });
    for (const p of [flaky, healthy]) await s.mq.announce(p);
    for (const p of [flaky, healthy]) await s.waitForPlatform(p.id);
    await s.step(0);
    // Each step is one tick of a 1-second schedule; under load a tick may land after the poll,
    // so keep stepping until four runs exist rather than assuming one run per step.
    const runs = await waitFor(
      async () => {
        await s.step(1_000);
        const rows = (await s
          .jobs()
          .where({ platform_id: flaky.id })
          .orderBy('scheduled_for')) as JobRow[];
        return rows.length >= 4 ? rows : undefined;
      },
      { message: 'four runs of the flaky schedule', intervalMs: 100 },
    );

    const at = () => new Date().toISOString();
    const start = (id: string, attempt = 1) =>
      s.mq.publish(jobStarted, { jobId: id, run: 1, attempt, at: at(), workerId: 'w1' });
    const fail = async (id: string, outcome: 'failed' | 'dead' | 'retrying', attempt = 1) => {
      await start(id, attempt);
      await s.mq.publish(jobFailed, {
        jobId: id,
        run: 1,
        attempt,
        at: at(),
        outcome,
        error: { message: 'HTTP 500 from the platform', class: 'HttpError' },
      });
    };
    const statusOf = async (id: string) =>
      ((await s.jobs().where({ id }).first()) as JobRow).status;
    const schedRow = async () =>
      (await s.knex
        .withSchema('scheduler')
        .table('schedules')
        .where({ platform_id: flaky.id })
        .first()) as { consecutive_failures: number; paused_reason: string | null };

    // failed, then a success (the streak resets), then a retry (not an outcome yet)
    await fail(runs[0]!.id, 'failed');
    await waitFor(async () => (await schedRow()).consecutive_failures === 1, {
      message: 'first failure counted',
    });
    await start(runs[1]!.id);
    await s.mq.publish(jobSucceeded, {
      jobId: runs[1]!.id,
      run: 1,
      attempt: 1,
      at: at(),
      stats: { fetched: 1, inserted: 1, updated: 0, unchanged: 0 },
    });
    await waitFor(async () => (await statusOf(runs[1]!.id)) === 'succeeded', {
      message: 'success applied',
    });
    // The streak is counted right after the ledger write, not in the same statement: wait for it.
    await waitFor(async () => (await schedRow()).consecutive_failures === 0, {
      message: 'a success resets the streak',
    });
    await fail(runs[2]!.id, 'retrying');
    await waitFor(async () => (await statusOf(runs[2]!.id)) === 'retrying', {
      message: 'retry applied',
    });
    assert.equal((await schedRow()).paused_reason, null);
    await fail(runs[2]!.id, 'dead', 2);
    await fail(runs[3]!.id, 'failed');

    const paused = await waitFor(async () => (await schedRow()).paused_reason ?? undefined, {
      message: 'schedule paused itself',
    });
    assert.equal(paused, 'paused after 2 failed runs in a row');
    const status = await s.rpc.call(platformSyncStatusGet, { platformId: flaky.id });
    assert.equal(status.isRunning, false);
    assert.equal(status.pausedReason, paused);
    assert.deepEqual(status.nextFireTimes, []);
    assert.equal((await s.rpc.call(schedulerStatusGet, {})).counts.pausedSchedules, 1);
    const audit = (await s.knex
      .withSchema('scheduler')
      .table('audit')
      .where({ action: 'auto-pause', target: `platform:${flaky.id}` })) as { reason: string }[];
    assert.deepEqual(
      audit.map((a) => a.reason),
      [paused],
    );

    // Runs made from here on, by the tick's time: the minutely retention pass may purge the
    // finished ones made before (their finished_at is the database's time, years before this
    // clock's), so counting every row would depend on whether it ran meanwhile.
    const since = clock.now();
    const emitted = async (id: string) =>
      ((await s.jobs().where({ platform_id: id }).andWhere('created_at', '>', since)) as JobRow[])
        .length;
    for (let i = 0; i < 3; i++) await s.step(1_000);
    assert.equal(await emitted(flaky.id), 0, 'a paused schedule emits nothing');
    assert.equal(await emitted(healthy.id), 3, 'the other schedule keeps running');

    // An operator's start lifts the automatic pause.
    const started = await s.rpc.call(platformSyncControl, {
      platformId: flaky.id,
      action: 'start',
    });
    assert.equal(started.isRunning, true);
    assert.equal(started.pausedReason, null);
    await s.step(1_000);
    assert.ok((await emitted(flaky.id)) > 0, 'runs again after start');
  });
});
