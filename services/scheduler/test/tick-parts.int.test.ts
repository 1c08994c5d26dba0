import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { platformSummary, replicaSuite } from './support.ts';

const PLATFORMS = 30;
const RESOURCES = 100;

describe(
  'scheduler tick: many runs due together are written in parts, by two transactions at a time',
  { timeout: 120_000 },
  () => {
    const s = replicaSuite('scheduler-tick-parts');

    it('when 3,000 schedules fall due together, then each makes exactly one run of that time and moves to its next one, and every run is sent to the workers', async () => {
      await s.start('scheduler-parts', { PSC_SCHEDULER_TICK_MS: '200' });
      const jobs = await s.mq.consumeJobs(500);
      const platforms = Array.from({ length: PLATFORMS }, () =>
        platformSummary({
          resources: Array.from({ length: RESOURCES }, (_, i) => ({
            name: `r${i}`,
            tasks: ['sync' as const],
          })),
          schedule: { sync: { enabled: true, intervalSeconds: 10, overlap: 'enqueue' } },
        }),
      );
      for (const p of platforms) await s.mq.announce(p);
      const schedules = PLATFORMS * RESOURCES;
      const jobsTable = () => s.db.withSchema('scheduler').table('jobs');
      // The first due time they all share: the earliest run's.
      const first = await waitFor(
        async () => {
          const row = await jobsTable()
            .where({ trigger: 'schedule' })
            .min<{ at: Date | null }[]>('scheduled_for as at');
          return row[0]?.at ?? null;
        },
        { timeoutMs: 40_000, message: 'the first scheduled run' },
      );
      await waitFor(() => jobs.received.length >= schedules, {
        timeoutMs: 40_000,
        message: `${schedules} runs sent`,
      });
      const perSchedule = await jobsTable()
        .where({ trigger: 'schedule', scheduled_for: first })
        .select('platform_id', 'resource')
        .count<{ platform_id: string; resource: string; n: string }[]>('* as n')
        .groupBy('platform_id', 'resource');
      assert.equal(perSchedule.length, schedules, 'every schedule made a run of that time');
      assert.deepEqual(
        perSchedule.filter((r) => Number(r.n) !== 1),
        [],
        'no schedule made two',
      );
      const notMoved = await s.db
        .withSchema('scheduler')
        .table('schedules')
        .where('next_due_at', '<=', first)
        .count<{ n: string }[]>('* as n');
      assert.equal(Number(notMoved[0]!.n), 0, 'every schedule moved to its next due time');
      const ids = new Set(
        (await jobsTable().where({ trigger: 'schedule', scheduled_for: first }).select('id')).map(
          (r: { id: string }) => r.id,
        ),
      );
      const sentIds = jobs.received.map((j) => j.payload.jobId).filter((id) => ids.has(id));
      const sent = new Set(sentIds);
      assert.equal(sentIds.length, schedules, 'no run of that time sent twice');
      assert.equal(sent.size, schedules, 'each run of that time sent once to the workers');
    });
  },
);
