import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { platformSummary, replicaSuite, scheduledRuns } from './support.ts';

describe(
  'scheduler tick: a schedule runs at its time, not at the next tick',
  { timeout: 90_000 },
  () => {
    const s = replicaSuite('scheduler-tick-wake');

    it('when the tick interval is 8 s and a schedule fires every 2 s, then each run is enqueued within a second of its fire time, not when the next tick comes', async () => {
      await s.start('scheduler-wake', { PSC_SCHEDULER_TICK_MS: '8000' });
      const jobs = await s.mq.consumeJobs();
      const platform = platformSummary({
        schedule: { sync: { enabled: true, intervalSeconds: 2, overlap: 'enqueue' } },
      });
      await s.mq.announce(platform);
      // Ticking only every 60 s, the first tick would start the schedule and the next come a
      // minute later: three runs within 20 s mean the loop woke for each.
      await waitFor(() => jobs.received.length >= 3, {
        timeoutMs: 20_000,
        message: 'three scheduled runs',
      });
      const rows = await scheduledRuns(s.db, platform.id);
      assert.ok(rows.length >= 3, `${rows.length} runs`);
      for (const r of rows) {
        const lagMs = r.created_at.getTime() - r.scheduled_for.getTime();
        assert.ok(
          lagMs >= 0 && lagMs < 1_000,
          `run of ${r.scheduled_for.toISOString()} lag ${lagMs} ms`,
        );
      }
    });
  },
);
