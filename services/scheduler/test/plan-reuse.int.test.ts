import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { plans, platformSummary, replicaSuite, scheduledRuns } from './support.ts';

describe(
  'scheduler tick: the leader reads every schedule only when something changed or falls due',
  { timeout: 90_000 },
  () => {
    const s = replicaSuite('scheduler-plan-reuse');

    const lastTick = async (): Promise<number> => {
      const row = await s.db
        .withSchema('scheduler')
        .table('control')
        .first<{ last_tick_at: Date | null } | undefined>('last_tick_at');
      return row?.last_tick_at?.getTime() ?? 0;
    };

    it('when 20 ticks pass with nothing changed and nothing due, then none plans; a platform event makes the next one plan, and its schedule runs at its times', async () => {
      const replica = await s.start('scheduler-plan', { PSC_SCHEDULER_TICK_MS: '100' });
      const { url } = replica;
      const jobs = await s.mq.consumeJobs();
      const hourly = platformSummary({
        schedule: { sync: { enabled: true, intervalSeconds: 3_600 } },
      });
      await s.mq.announce(hourly);
      await waitFor(
        async () =>
          (await s.db
            .withSchema('scheduler')
            .table('schedules')
            .where({ platform_id: hourly.id })
            .first()) !== undefined,
        { timeoutMs: 15_000, message: 'the hourly schedule planned' },
      );
      const quiet = await plans(url);
      assert.equal(quiet.leader, 1, 'one plan on becoming leader');
      assert.ok(quiet.changed >= 1, 'the platform event made a plan');

      // Ticks go on (each writes last_tick_at) but make no plan: nothing changed, nothing due.
      const from = await lastTick();
      await waitFor(async () => (await lastTick()) - from >= 2_000, {
        timeoutMs: 20_000,
        message: '20 ticks',
      });
      assert.deepEqual(await plans(url), quiet, 'no plan while nothing changed or fell due');

      const every2s = platformSummary({
        schedule: { sync: { enabled: true, intervalSeconds: 2, overlap: 'enqueue' } },
      });
      await s.mq.announce(every2s);
      await waitFor(
        () => jobs.received.filter((j) => j.payload.platformId === every2s.id).length >= 3,
        { timeoutMs: 20_000, message: 'three runs of the 2 s schedule' },
      );
      const busy = await plans(url);
      assert.ok(busy.changed > quiet.changed, 'the new platform made a plan');
      assert.ok(
        busy.ahead >= quiet.ahead + 2,
        'each run after the first was planned ahead of its time',
      );
      assert.equal(
        jobs.received.filter((j) => j.payload.platformId === hourly.id).length,
        0,
        'the hourly schedule did not run',
      );
      const rows = await scheduledRuns(s.db, every2s.id);
      for (const r of rows) {
        const lagMs = r.created_at.getTime() - r.scheduled_for.getTime();
        assert.ok(
          lagMs >= 0 && lagMs < 1_000,
          `run of ${r.scheduled_for.toISOString()}: ${lagMs} ms late`,
        );
      }
    });
  },
);
