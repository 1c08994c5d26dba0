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
      // Interval schedules sit on a 10 s grid from the epoch: announced early in a window, all
      // 3,000 are projected before its end and fall due at once, in one tick written in parts.
      await waitFor(() => Date.now() % 10_000 < 2_000, { message: 'the start of a 10 s window' });
      for (const p of platforms) await s.mq.announce(p);
      const schedules = PLATFORMS * RESOURCES;
      // Each schedule's first run, by its own due time: should a slow host project some of them
      // only in the next window, those fall due together 10 s later, still each exactly once.
      const firstRuns = () =>
        s.db
          .withSchema('scheduler')
          .table('jobs as j')
          .where('j.trigger', 'schedule')
          .whereRaw(
            `j.scheduled_for = (select min(k.scheduled_for) from scheduler.jobs k
              where k.trigger = 'schedule' and k.platform_id = j.platform_id
                and k.resource = j.resource)`,
          )
          .select<{ id: string; platform_id: string; resource: string }[]>(
            'j.id',
            'j.platform_id',
            'j.resource',
          );
      await waitFor(async () => (await firstRuns()).length >= schedules, {
        timeoutMs: 40_000,
        message: 'a first run of every schedule',
      });
      await waitFor(() => jobs.received.length >= schedules, {
        timeoutMs: 40_000,
        message: `${schedules} runs sent`,
      });
      const first = await firstRuns();
      const perSchedule = new Map<string, number>();
      for (const r of first) {
        const key = `${r.platform_id}/${r.resource}`;
        perSchedule.set(key, (perSchedule.get(key) ?? 0) + 1);
      }
      assert.equal(perSchedule.size, schedules, 'every schedule made a run');
      assert.deepEqual(
        [...perSchedule].filter(([, n]) => n !== 1),
        [],
        'no schedule made two of its first time',
      );
      const notMoved = await s.db.raw<{ rows: { n: string }[] }>(
        `select count(*) as n from scheduler.schedules s
          where s.next_due_at <= (select min(k.scheduled_for) from scheduler.jobs k
                                   where k.trigger = 'schedule' and k.platform_id = s.platform_id
                                     and k.resource = s.resource)`,
      );
      assert.equal(Number(notMoved.rows[0]!.n), 0, 'every schedule moved to its next due time');
      const ids = new Set(first.map((r) => r.id));
      const sentIds = jobs.received.map((j) => j.payload.jobId).filter((id) => ids.has(id));
      const sent = new Set(sentIds);
      assert.equal(sentIds.length, schedules, 'no first run sent twice');
      assert.equal(sent.size, schedules, 'each first run sent once to the workers');
    });
  },
);
