import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import pg from 'pg';
import { waitFor, type ServiceProcess } from '@psc/testing';
import { startRig, type Platform, type Rig } from './support/rig.ts';

const TICK_MS = 500;
const LEASE_MS = 1_500;
/** The promise: a dead or frozen leader leaves no gap longer than this. */
const GAP_BOUND_MS = LEASE_MS + 2 * TICK_MS;

interface LeaseRow {
  holder: string;
  token: string;
}

describe(
  'faults: the scheduler leader killed and frozen, two replicas',
  { timeout: 300_000 },
  () => {
    let rig: Rig;
    let platform: Platform;
    const replicas = new Map<string, ServiceProcess>();
    const takeovers: number[] = [];

    before(async () => {
      rig = await startRig({
        name: 'faults-leader',
        env: {
          PSC_SCHEDULER_TICK_MS: String(TICK_MS),
          PSC_SCHEDULER_LEASE_MS: String(LEASE_MS),
          // Runs due during a takeover are on-time runs: each second keeps its job.
          PSC_SCHEDULER_MISFIRE_GRACE_MS: '10000',
        },
        serviceEnv: { scheduler: { PSC_SCHEDULER_REPLICA_ID: 'a' } },
      });
      replicas.set('a', rig.system.services.get('scheduler')!.process);
      replicas.set('b', (await rig.startReplica('scheduler', 'b')).process);
      platform = await rig.register({
        resources: 1,
        itemsPer: 5,
        schedule: { sync: { enabled: true, intervalSeconds: 1, overlap: 'enqueue' } },
      });
    });
    after(async () => {
      for (const p of replicas.values()) p.kill('SIGCONT');
      await Promise.all([...replicas.values()].map((p) => p.stop()));
      await rig?.stop();
    });

    const lease = async () =>
      (
        await rig.q<LeaseRow>(`select holder, token from scheduler.leases where name = 'scheduler'`)
      )[0];
    const leader = async () => {
      const row = await waitFor(lease, { message: 'a leader' });
      const id = row.holder.replace(/^scheduler-/, '');
      return { ...row, id, process: replicas.get(id)! };
    };
    /** Waits for another replica to take the lease; returns how long after `since` it did. */
    const takenOver = async (token: string, since: number) => {
      await waitFor(async () => Number((await lease())?.token) > Number(token), {
        timeoutMs: 30_000,
        intervalMs: 20,
        message: 'the lease taken over',
      });
      const ms = Date.now() - since;
      takeovers.push(ms);
      return ms;
    };
    /** Waits until a scheduled job is written under a token newer than `token`. */
    const emittingAgain = (token: string) =>
      waitFor(
        async () =>
          (
            await rig.q(
              `select 1 from scheduler.jobs where trigger = 'schedule' and fencing_token > $1 limit 1`,
              [token],
            )
          ).length > 0,
        { timeoutMs: 30_000, intervalMs: 20, message: 'scheduled runs again' },
      );

    it('when the leader is killed with SIGKILL three times, then the other replica takes the lease within lease + 2 ticks each time', async () => {
      await waitFor(
        async () =>
          (await rig.q(`select 1 from scheduler.jobs where trigger = 'schedule'`)).length >= 2,
        { timeoutMs: 30_000, message: 'schedule firing' },
      );
      for (let i = 0; i < 3; i += 1) {
        const current = await leader();
        current.process.kill('SIGKILL');
        const killedAt = Date.now();
        await current.process.exited;
        const ms = await takenOver(current.token, killedAt);
        await emittingAgain(current.token);
        assert.ok(ms <= GAP_BOUND_MS, `kill ${i + 1}: lease taken after ${ms} ms`);
        // A supervisor starts the dead replica again.
        const again = await rig.startReplica('scheduler', current.id);
        replicas.set(current.id, again.process);
      }
    });

    it('when the leader is frozen (SIGSTOP) between ticks, then the other takes over within lease + 2 ticks, and the woken one steps down', async () => {
      const current = await leader();
      assert.ok(current.process.kill('SIGSTOP'));
      const frozenAt = Date.now();
      const ms = await takenOver(current.token, frozenAt);
      await emittingAgain(current.token);
      current.process.kill('SIGCONT');
      assert.ok(ms <= GAP_BOUND_MS, `lease taken after ${ms} ms`);
      await waitFor(async () => (await leader()).id !== current.id, {
        message: 'stays stepped down',
      });
    });

    it('when the leader is frozen inside its tick transaction, then its lock ends with its lease: the other takes over and schedules again within lease + 2 ticks', async () => {
      const current = await leader();
      // Hold the tick's last write (the control row) so the leader's tick waits inside its
      // transaction, then freeze it there and let the write through: it is idle in transaction.
      const blocker = new pg.Client({ connectionString: rig.system.env.databaseUrl });
      await blocker.connect();
      try {
        await blocker.query('begin');
        await blocker.query('lock table scheduler.control in exclusive mode');
        await waitFor(
          async () =>
            (
              await rig.q(
                `select 1 from pg_stat_activity
                where datname = $1 and wait_event_type = 'Lock' and query ilike '%control%'`,
                [rig.system.env.database],
              )
            ).length > 0,
          { timeoutMs: 10_000, intervalMs: 20, message: 'the leader waits inside its tick' },
        );
        assert.ok(current.process.kill('SIGSTOP'));
        await blocker.query('commit');
      } finally {
        await blocker.end();
      }
      const frozenAt = Date.now();
      const ms = await takenOver(current.token, frozenAt);
      await emittingAgain(current.token);
      const emittingMs = Date.now() - frozenAt;
      current.process.kill('SIGCONT');
      assert.ok(ms <= GAP_BOUND_MS, `lease taken after ${ms} ms`);
      assert.ok(emittingMs <= GAP_BOUND_MS + TICK_MS, `scheduling again after ${emittingMs} ms`);
    });

    it('after all of it, then no second was fired twice or skipped, and every scheduled job ran once and succeeded', async () => {
      const rows = await rig.q<{ id: string; scheduled_for: Date; status: string }>(
        `select id, scheduled_for, status from scheduler.jobs
        where trigger = 'schedule' and platform_id = $1 order by scheduled_for`,
        [platform.id],
      );
      const seconds = rows.map((r) => r.scheduled_for.getTime());
      assert.equal(new Set(seconds).size, seconds.length, 'no second fired twice');
      const last = Date.now() - 3 * LEASE_MS;
      const missing: string[] = [];
      for (let t = seconds[0]!; t <= last; t += 1_000)
        if (!seconds.includes(t)) missing.push(new Date(t).toISOString());
      assert.deepEqual(missing, [], 'no second skipped');
      const settled = rows.filter((r) => r.scheduled_for.getTime() <= last).map((r) => r.id);
      await rig.allFinal(settled, 60_000);
      const runs = await rig.q<{ n: string }>(
        'select count(*) as n from sync.job_runs where job_id = any($1)',
        [settled],
      );
      assert.equal(Number(runs[0]?.n), settled.length, 'one run row per scheduled job');
      const failed = await rig.q(
        `select id from scheduler.jobs where id = any($1) and status <> 'succeeded'`,
        [settled],
      );
      assert.equal(failed.length, 0);
      assert.ok(takeovers.length === 5 && takeovers.every((ms) => ms <= GAP_BOUND_MS));
    });
  },
);
