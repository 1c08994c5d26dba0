import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { waitFor } from '@psc/testing';
import { platformSummary, replicaSuite } from './support.ts';

const TICK_MS = 500;
const LEASE_MS = 1_500;

interface JobRow {
  id: string;
  platform_id: string;
  resource: string;
  scheduled_for: Date;
  emitted_by: string | null;
  fencing_token: string | null;
}
interface LeaseRow {
  holder: string;
  token: string;
}

describe('scheduler lease: a leader frozen past its lease', { timeout: 120_000 }, () => {
  const s = replicaSuite('scheduler-frozen');

  const lease = async (): Promise<LeaseRow> =>
    (await s.db
      .withSchema('scheduler')
      .table('leases')
      .where({ name: 'scheduler' })
      .first()) as LeaseRow;
  const scheduled = async (): Promise<JobRow[]> =>
    s.db
      .withSchema('scheduler')
      .table('jobs')
      .where({ trigger: 'schedule' })
      .select<JobRow[]>(
        'id',
        'platform_id',
        'resource',
        'scheduled_for',
        'emitted_by',
        'fencing_token',
      );

  it('when the leader is stopped (SIGSTOP) past its lease and continued, then the other takes over, every second is enqueued exactly once and nothing is written under the stale fencing token', async () => {
    const settings = {
      PSC_SCHEDULER_TICK_MS: String(TICK_MS),
      PSC_SCHEDULER_LEASE_MS: String(LEASE_MS),
      // Runs due during the takeover are on-time runs, not misfires: each second keeps its job.
      PSC_SCHEDULER_MISFIRE_GRACE_MS: '10000',
    };
    const replicas = await Promise.all(
      ['frozen-a', 'frozen-b'].map((name) => s.start(name, settings)),
    );
    const platform = platformSummary({
      schedule: { sync: { enabled: true, intervalSeconds: 1, overlap: 'enqueue' } },
    });
    const jobs = await s.mq.consumeJobs();
    await s.mq.announce(platform);
    await waitFor(() => jobs.received.length >= 3, { timeoutMs: 20_000, message: 'three jobs' });

    const stale = await lease();
    const staleToken = Number(stale.token);
    const frozen = replicas.find((r) => r.process.name === stale.holder);
    const survivor = replicas.find((r) => r.process.name !== stale.holder);
    assert.ok(frozen && survivor, `leader ${stale.holder} is one of ours`);
    assert.ok(frozen.process.kill('SIGSTOP'));
    const frozenAt = Date.now();

    const taken = await waitFor(
      async () => {
        const now = await lease();
        return now.holder === survivor.process.name && Number(now.token) > staleToken
          ? now
          : undefined;
      },
      // A deadline for the takeover to happen at all, generous for a loaded test run: its bound
      // (lease + 2 ticks) is test/faults/scheduler-leader.test.ts's; this test is about fencing.
      { timeoutMs: 30_000, message: 'the other replica takes the lease' },
    );
    const newToken = Number(taken.token);
    // Stay frozen well past the lease, while the new leader emits under its own token.
    await waitFor(
      async () =>
        Date.now() - frozenAt > 2 * LEASE_MS &&
        (await scheduled()).filter((r) => Number(r.fencing_token) === newToken).length >= 2,
      { timeoutMs: 15_000, message: 'new leader emitting' },
    );
    const staleRows = (await scheduled()).filter((r) => Number(r.fencing_token) === staleToken);
    assert.ok(staleRows.length > 0, 'the old leader had emitted before the freeze');

    assert.ok(frozen.process.kill('SIGCONT'));
    const continuedAt = Date.now();
    // The old leader's first tick after waking finds the lease taken and steps down.
    await frozen.process.waitForLine(/not scheduler leader/, 15_000);
    await waitFor(
      async () =>
        (await scheduled()).filter(
          (r) =>
            Number(r.fencing_token) === newToken &&
            r.scheduled_for.getTime() > continuedAt + 2 * TICK_MS,
        ).length >= 2,
      { timeoutMs: 15_000, message: 'runs after the old leader woke up' },
    );
    const lastSecond = Math.floor((Date.now() - 2 * TICK_MS) / 1_000) * 1_000;
    await waitFor(
      async () => {
        const [row] = await s.db
          .withSchema('scheduler')
          .table('outbox')
          .count<{ n: string }[]>('* as n');
        return Number(row?.n) === 0;
      },
      { message: 'outboxes drained' },
    );
    const rows = await scheduled();
    await waitFor(() => jobs.received.length >= rows.length, { message: 'all messages consumed' });

    // Nothing under the stale token appeared after the freeze, and nothing under any other.
    assert.deepEqual(
      rows
        .filter((r) => Number(r.fencing_token) === staleToken)
        .map((r) => r.id)
        .sort(),
      staleRows.map((r) => r.id).sort(),
      'no job written under the stale fencing token after the freeze',
    );
    assert.deepEqual(
      [...new Set(rows.map((r) => Number(r.fencing_token)))].sort(),
      [staleToken, newToken].sort(),
    );
    assert.ok(
      rows.every(
        (r) =>
          r.emitted_by ===
          (Number(r.fencing_token) === staleToken ? frozen.process.name : survivor.process.name),
      ),
    );
    const now = await lease();
    assert.deepEqual([now.holder, Number(now.token)], [survivor.process.name, newToken]);

    // Every second exactly once, in the ledger and on the queue.
    const messages = jobs.received.map((m) => m.payload.jobId);
    assert.equal(new Set(messages).size, messages.length, 'no job message twice');
    const byId = new Map(rows.map((r) => [r.id, r]));
    const seconds = messages.map((id) => {
      const row = byId.get(id);
      assert.ok(row, 'every message has its ledger row');
      return row.scheduled_for.getTime();
    });
    assert.equal(new Set(seconds).size, seconds.length, 'no second enqueued twice');
    const first = Math.min(...seconds);
    const missing: string[] = [];
    for (let t = first; t <= lastSecond; t += 1_000)
      if (!seconds.includes(t)) missing.push(new Date(t).toISOString());
    assert.deepEqual(missing, [], 'no second skipped across the freeze');
  });
});
