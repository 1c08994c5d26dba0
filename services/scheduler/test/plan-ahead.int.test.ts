import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { plans, platformSummary, replicaSuite, scheduledRuns } from './support.ts';

const every5s = () =>
  platformSummary({
    schedule: { sync: { enabled: true, intervalSeconds: 5, overlap: 'enqueue' } },
  });

/**
 * Two platforms run every 5 s; right after the leader planned their next due time ahead of it,
 * one is deleted. At that time the other runs and the deleted one does not: the plan made
 * ahead is not written once something it was made from changed. Answers the replica's plan
 * counts from just before the deletion and after that due time.
 */
async function deleteAfterPlanAhead(s: ReturnType<typeof replicaSuite>, tickMs: number) {
  const replica = await s.start(`scheduler-ahead-${tickMs}`, {
    PSC_SCHEDULER_TICK_MS: String(tickMs),
    PSC_SCHEDULER_PLAN_AHEAD_MS: '1500',
  });
  const jobs = await s.mq.consumeJobs();
  const kept = every5s();
  const deleted = every5s();
  await s.mq.announce(kept);
  await s.mq.announce(deleted);
  const runsOf = (id: string) => jobs.received.filter((j) => j.payload.platformId === id);
  await waitFor(() => runsOf(kept.id).length >= 1 && runsOf(deleted.id).length >= 1, {
    timeoutMs: 30_000,
    message: 'the first run of each platform',
  });
  const before = await plans(replica.url);
  await waitFor(async () => (await plans(replica.url)).ahead > before.ahead, {
    timeoutMs: 10_000,
    intervalMs: 50,
    message: 'the next due time planned ahead',
  });
  const planned = await plans(replica.url);
  await s.mq.retire(deleted.id, deleted.version);
  await waitFor(() => runsOf(kept.id).length >= 2, {
    timeoutMs: 10_000,
    message: "the kept platform's next run",
  });
  const rows = await scheduledRuns(s.db, deleted.id);
  assert.equal(rows.length, 1, 'the deleted platform ran only before its deletion');
  return { planned, after: await plans(replica.url) };
}

describe(
  'scheduler tick: a plan made ahead of its due time is not written once what it was made from changed',
  { timeout: 90_000 },
  () => {
    const slow = replicaSuite('scheduler-plan-ahead-change');
    it('when a platform is deleted between the plan made ahead and its due time, with no tick between, then at that time the tick plans again and only the other platform runs', async () => {
      // Ticks 8 s apart: the tick at the due time is the first after the plan made ahead.
      const { planned, after } = await deleteAfterPlanAhead(slow, 8_000);
      assert.ok(after.changed > planned.changed, 'the tick at the due time planned again');
    });

    const fast = replicaSuite('scheduler-plan-ahead-tick');
    it('when a platform is deleted after the plan made ahead and a tick plans in between, then the plan made ahead is dropped and only the other platform runs', async () => {
      // Ticks every 100 ms: one of them plans the deletion (and consumes its change) before
      // the due time, so the changes left then look as when the plan was made ahead.
      const { planned, after } = await deleteAfterPlanAhead(fast, 100);
      assert.ok(after.changed > planned.changed, 'a tick planned the deletion');
      assert.ok(after.due > planned.due, 'the tick at the due time planned again');
    });
  },
);
