import { setTimeout as sleep } from 'node:timers/promises';
import { waitFor } from '@psc/testing';
import type { BenchContext } from '../lib/context.ts';
import { cpuByGroup } from '../lib/cpu.ts';
import { expectStatus } from '../lib/psc.ts';
import { compare, note, skip } from '../lib/report.ts';
import { max, percentile } from '../lib/stats.ts';

const SCENARIO = 'scheduler';
const RESOURCES_PER_PLATFORM = 100;

interface Lags {
  p50: number;
  p99: number;
  max: number;
  perSecond: number;
}

/**
 * Scenario 4. S sync schedules all due at the same instant (a cron on each platform, UTC, no
 * jitter). psc: the scheduler's leader emits a job per schedule (ledger row + outbox + relay);
 * lag = when the bench first sees the ledger row committed (polling every 20 ms) − scheduled_for. Baseline: a bare process that, at the due instant,
 * inserts the job rows in batches and publishes one message per row. psc is paused while the
 * baseline runs, so they never share a due instant.
 */
export async function scheduler(ctx: BenchContext): Promise<void> {
  const { args, psc, db, fake } = ctx;
  const status = await psc.api('/api/v1/scheduler');
  const { rows: column } = await db.query(
    `select 1 from information_schema.columns
      where table_schema = 'scheduler' and table_name = 'jobs' and column_name = 'scheduled_for'`,
  );
  if (status.status !== 200 || column.length === 0) {
    skip(
      ctx.report,
      SCENARIO,
      `needs the scheduler's schedules (issue 4: GET /api/v1/scheduler answered ${status.status}; ` +
        `scheduler.jobs.scheduled_for ${column.length ? 'present' : 'missing'})`,
    );
    return;
  }

  // Emission is what is measured, and the baseline runs no jobs either: without a worker, the
  // 10,000 jobs of each instant wait in the queue instead of competing with the leader for the
  // ledger. Stopping the scheduler at the end cancels them before the worker returns.
  await psc.stopInstance('sync-worker');

  // Due every period: 30 s (5 s in quick mode) leaves room for a psc and a baseline instant.
  const periodS = args.quick ? 5 : 30;
  const spec = {
    enabled: true,
    cron: `*/${periodS} * * * * *`,
    timezone: 'UTC',
    jitterSeconds: 0,
    overlap: 'enqueue',
    misfire: 'skip',
  };
  fake.setCollection('/sched/empty', []);
  const ids: string[] = [];
  for (let made = 0, p = 0; made < args.schedules; p++) {
    const n = Math.min(RESOURCES_PER_PLATFORM, args.schedules - made);
    const platform = expectStatus(
      'register scheduled platform',
      await psc.api<{ id: string }>('/api/v1/platforms', {
        body: {
          name: `bench-sched-${String(p).padStart(4, '0')}`,
          baseUrl: fake.url,
          schedule: { sync: spec },
          resources: Array.from({ length: n }, (_, j) => ({
            name: `s${j}`,
            request: { path: '/sched/empty' },
            itemsPath: 'data',
            key: 'id',
            mapping: { id: 'id' },
          })),
        },
      }),
      201,
    );
    ids.push(platform.id);
    made += n;
  }

  const periodMs = periodS * 1000;
  /** The first instant at least `leadMs` away. */
  const nextDue = (leadMs = 2_000): number =>
    Math.ceil((Date.now() + leadMs) / periodMs) * periodMs;
  // What psc costs while it waits for the instant, nothing due and nothing changing: sampled
  // once, in the first repetition (later ones start with the resume after the baseline's turn,
  // which plans once).
  const idleWindowMs = Math.min(5_000, periodMs / 2 - 1_000);
  let idle: { scheduler: number; postgresql: number } | undefined;
  const sampleIdle = async (): Promise<void> => {
    const groups = {
      scheduler: { pids: [psc.instances.get('scheduler')?.process.pid] },
      postgresql: { command: /\/bin\/postgres /u },
    };
    const before = cpuByGroup(groups);
    const began = performance.now();
    await sleep(idleWindowMs);
    const after = cpuByGroup(groups);
    const seconds = (performance.now() - began) / 1000;
    const rate = (name: 'scheduler' | 'postgresql') =>
      ((after[name] ?? 0) - (before[name] ?? 0)) / seconds;
    idle = { scheduler: rate('scheduler'), postgresql: rate('postgresql') };
  };
  /**
   * Idle is the scheduler between two instants once nothing has changed: the schedules were just
   * registered (the scheduler applying their events and planning them), so one instant passes
   * first, and then its tick must have committed and its 10,000 `job.run`s left the outbox, or
   * the sample would count their relay.
   */
  const untilQuiet = async () => {
    await sleep(nextDue(0) + 3_000 - Date.now());
    await waitFor(
      async () => {
        if (Date.now() % periodMs < 3_000) return false;
        const { rows } = await db.query<{ n: number }>(
          'select count(*)::int as n from scheduler.outbox',
        );
        return rows[0]!.n === 0;
      },
      { timeoutMs: 120_000, intervalMs: 250, message: "the scheduler's outbox relayed" },
    );
  };
  const pscRun = async (): Promise<Lags> => {
    // The first instant after the scheduler knows every schedule.
    await waitFor(
      async () => {
        const { rows } = await db.query<{ n: number }>(
          `select count(*)::int as n from scheduler.schedules where platform_id = any($1::uuid[])`,
          [ids],
        );
        return rows[0]!.n >= args.schedules;
      },
      { timeoutMs: 120_000, intervalMs: 250, message: 'scheduler knows every schedule' },
    );
    if (!idle) await untilQuiet();
    const due = nextDue(idle ? 2_000 : idleWindowMs + 2_000);
    if (!idle) await sampleIdle();
    // psc's ledger rows carry the tick's start as created_at, all of them, however long the
    // tick then takes to write them: when the rows become visible (committed, their job.run
    // on the way) is the emission. Counted every 20 ms; each row's lag is when it was first
    // counted, so the figure includes the tick's writing.
    const lags: number[] = [];
    await waitFor(
      async () => {
        const { rows } = await db.query<{ n: number }>(
          `select count(*)::int as n from scheduler.jobs
            where platform_id = any($1::uuid[]) and scheduled_for = to_timestamp($2::float8 / 1000)`,
          [ids, due],
        );
        const seenAt = Date.now();
        for (let i = lags.length; i < Math.min(rows[0]!.n, args.schedules); i++) {
          lags.push(Math.max(0, seenAt - due));
        }
        return lags.length >= args.schedules;
      },
      {
        timeoutMs: 2 * periodS * 1000 + args.schedules * 20,
        intervalMs: 20,
        message: 'psc emitted every due schedule',
      },
    );
    return summarise(lags);
  };
  const baselineRun = async (): Promise<Lags> => {
    const due = nextDue();
    const child = await ctx.spawnBaseline('scheduler-tick', {
      COUNT: String(args.schedules),
      DUE_AT: String(due),
      QUEUE: 'baseline.scheduled',
    });
    await child.waitForLine(/^RESULT /, 2 * periodS * 1000 + args.schedules * 20);
    await child.stop();
    const { rows } = await db.query<{ ms: number }>(
      `select (extract(epoch from created_at - scheduled_for) * 1000)::float8 as ms
         from baseline.scheduled_jobs where scheduled_for = to_timestamp($1::float8 / 1000)`,
      [due],
    );
    return summarise(rows.map((r) => r.ms));
  };
  const control = async (action: 'pause' | 'resume'): Promise<void> => {
    expectStatus(
      `scheduler ${action}`,
      await psc.api(`/api/v1/scheduler/${action}`, { body: { reason: 'bench: baseline turn' } }),
      200,
      202,
      204,
    );
  };

  const runs = { psc: [] as Lags[], base: [] as Lags[] };
  for (let rep = 0; rep < args.reps; rep++) {
    runs.psc.push(await pscRun());
    await control('pause');
    runs.base.push(await baselineRun());
    await control('resume');
  }
  // Stopped (which also cancels the queued jobs): the schedules would otherwise keep firing into
  // the later scenarios, and the worker would spend them on thousands of emitted jobs.
  expectStatus(
    'scheduler stop',
    await psc.api('/api/v1/scheduler/stop', { body: { reason: 'bench: scheduler scenario done' } }),
    200,
    202,
    204,
  );
  await psc.start('sync-worker');

  note(
    ctx.report,
    `${args.schedules} schedules due together (cron ${spec.cron}); lag = emit − due (psc: its ledger rows first seen committed, polled every 20 ms; baseline: its rows' created_at)`,
  );
  if (idle) {
    note(
      ctx.report,
      `psc idle with ${args.schedules} schedules (nothing due or changed, ${idleWindowMs / 1000} s before an instant, after a first instant and its runs' relay): scheduler ${idle.scheduler.toFixed(0)} ms CPU/s, PostgreSQL ${idle.postgresql.toFixed(0)} ms CPU/s (all its backends, every service's pollers included)`,
    );
  }
  const pick = (side: Lags[], key: keyof Lags) => side.map((l) => l[key]);
  compare(
    ctx.report,
    SCENARIO,
    'emit lag p50',
    'ms',
    pick(runs.psc, 'p50'),
    pick(runs.base, 'p50'),
  );
  compare(
    ctx.report,
    SCENARIO,
    'emit lag p99',
    'ms',
    pick(runs.psc, 'p99'),
    pick(runs.base, 'p99'),
    {
      text: '≤ 1000 ms',
      max: 1000,
    },
  );
  compare(
    ctx.report,
    SCENARIO,
    'emit lag max',
    'ms',
    pick(runs.psc, 'max'),
    pick(runs.base, 'max'),
  );
  compare(
    ctx.report,
    SCENARIO,
    'emit rate',
    'schedules/s',
    pick(runs.psc, 'perSecond'),
    pick(runs.base, 'perSecond'),
  );
}

function summarise(lagsMs: number[]): Lags {
  const last = max(lagsMs);
  return {
    p50: percentile(lagsMs, 50),
    p99: percentile(lagsMs, 99),
    max: last,
    perSecond: (lagsMs.length * 1000) / Math.max(1, last),
  };
}
