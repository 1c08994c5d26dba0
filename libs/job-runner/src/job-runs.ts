import type { Knex } from 'knex';
import type { JobStats } from '@psc/contracts';
import type { OutboxAlong } from '@psc/messaging';
import {
  numbered,
  preparedByText,
  runPrepared,
  type PreparedStatement,
  type Age,
  type RetentionRule,
} from '@psc/db';

/**
 * Migration step: the runner's tables in a worker service's own schema. `job_runs` holds one row
 * per finished (or fanned-out) run of a job — the idempotency record a redelivered or duplicated
 * `job.run` is checked against; `cancelled_jobs` the cancellations every replica checks.
 */
export async function createJobRunnerTables(knex: Knex, schema: string): Promise<void> {
  const s = () => knex.schema.withSchema(schema);
  await s().createTable('job_runs', (t) => {
    t.uuid('job_id').notNullable();
    t.integer('run').notNullable();
    t.integer('attempt').notNullable();
    /** `succeeded`, `failed`, or `continues` (finished by another message: a fan-out's last child). */
    t.text('status').notNullable();
    t.jsonb('stats');
    t.timestamp('finished_at', { useTz: true }).notNullable();
    t.primary(['job_id', 'run']);
  });
  await s().createTable('cancelled_jobs', (t) => {
    t.uuid('job_id').notNullable();
    t.integer('run').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.primary(['job_id', 'run']);
  });
  await createCrashTable(knex, schema);
}

/**
 * Migration step: how often a run's delivery came back without an outcome — the worker died
 * (or lost its connection) while holding it. A run that keeps killing its worker is given up.
 */
export async function createCrashTable(knex: Knex, schema: string): Promise<void> {
  await knex.schema.withSchema(schema).createTable('job_crashes', (t) => {
    t.uuid('job_id').notNullable();
    t.integer('run').notNullable();
    t.integer('crashes').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.primary(['job_id', 'run']);
  });
}

/** The PostgreSQL channel a worker service's replicas hear its cancellations on. */
export const cancellationChannel = (schema: string) => `${schema}_cancellations`;

/** Each runner table and the timestamp its rows age by (see `createAgeIndexes`). */
export const RUNNER_AGES = [
  ['job_runs', 'finished_at'],
  ['cancelled_jobs', 'at'],
  ['job_crashes', 'at'],
] as const satisfies readonly Age[];

/**
 * The runner's tables as retention rules: a run's record, cancellation and crash count are kept
 * `keepMs`. A fan-out's record that still `continues` waits for its last child, however old.
 */
export function runnerRetention(schema: string, keepMs: number): RetentionRule[] {
  const names = {
    job_runs: 'run records',
    cancelled_jobs: 'cancellations',
    job_crashes: 'crash counts',
  };
  return RUNNER_AGES.map(([table, column]) => ({
    name: names[table],
    table: `${schema}.${table}`,
    column,
    keepMs,
    ...(table === 'job_runs' ? { only: `status <> 'continues'` } : {}),
  }));
}

export type RunStatus = 'succeeded' | 'failed' | 'continues';

export interface RunRecord {
  jobId: string;
  run: number;
  attempt: number;
  status: RunStatus;
  stats: JobStats | null;
  at: Date;
}

/** The runner's view of its tables; every statement is one round trip. */
export function createJobRunRepository(knex: Knex, schema: string) {
  const claimCtes = `
    cancelled as (
      select exists (select 1 from ${schema}.cancelled_jobs where job_id = ? and run = ?) as yes
    ), claimed as (
      insert into ${schema}.job_runs (job_id, run, attempt, status, stats, finished_at)
      select ?, ?, ?, ?, ?::jsonb, ? from cancelled where not cancelled.yes
      on conflict (job_id, run) do nothing
      returning 1
    )`;
  const claimSelect = `(select yes from cancelled) as cancelled, exists (select 1 from claimed) as claimed`;
  // Every job's commit runs one of these: prepared, they are parsed once per connection.
  const claimAlone: PreparedStatement = {
    name: `${schema}.job_runs.claim`,
    text: numbered(`with ${claimCtes} select ${claimSelect}`),
  };
  /** By the outbox's part, one text for any number of messages (six arrays). */
  const claimWithOutboxText = preparedByText(`${schema}.job_runs.claim+outbox`);
  const claimWithOutbox = (outbox: OutboxAlong): PreparedStatement =>
    claimWithOutboxText(
      `with ${outbox.cte}, ${claimCtes} select ${claimSelect}, ${outbox.seqs} as outbox_seqs`,
    );

  return {
    /**
     * Records a run's outcome inside the transaction of its effects. `duplicate`: another
     * delivery of the same run got there first (the caller rolls back and acks); `cancelled`:
     * the run was cancelled before it could commit (the caller rolls back).
     */
    async claim(
      trx: Knex.Transaction,
      record: RunRecord,
      /** The run's outbox messages, written by the same statement. */
      outbox?: OutboxAlong,
    ): Promise<'claimed' | 'duplicate' | 'cancelled'> {
      const rows = await runPrepared<{
        cancelled: boolean;
        claimed: boolean;
        outbox_seqs?: string[];
      }>(trx, outbox ? claimWithOutbox(outbox) : claimAlone, [
        ...(outbox?.bindings ?? []),
        record.jobId,
        record.run,
        record.jobId,
        record.run,
        record.attempt,
        record.status,
        record.stats === null ? null : JSON.stringify(record.stats),
        record.at,
      ]);
      const row = rows[0]!;
      // The rows roll back with the transaction when the claim is refused.
      outbox?.inserted(row.outbox_seqs ?? []);
      if (row.cancelled) return 'cancelled';
      return row.claimed ? 'claimed' : 'duplicate';
    },

    /**
     * The run's record as a CTE named `claimed` (returning `stats`) of the caller's own
     * autocommitted statement, which then needs no transaction around it. Unlike {@link claim}
     * it refuses by failing the whole statement, so none of the caller's effects stay: a plain
     * insert, so a second delivery of the run is a unique violation, and a cancelled run's
     * status is null, which the column refuses. {@link refusal} tells the two apart.
     */
    claimCte(record: Omit<RunRecord, 'stats'>, statsSql: string) {
      return {
        text: `claimed as (
          insert into ${schema}.job_runs (job_id, run, attempt, status, stats, finished_at)
          values (?, ?, ?, (select case when exists (
                              select 1 from ${schema}.cancelled_jobs where job_id = ? and run = ?)
                            then null else ?::text end),
                  ${statsSql}, ?)
          returning stats)`,
        bindings: [
          record.jobId,
          record.run,
          record.attempt,
          record.jobId,
          record.run,
          record.status,
          record.at,
        ] as Knex.RawBinding[],
      };
    },

    /** Why a statement with {@link claimCte} failed, when the claim refused it. */
    refusal(err: unknown): 'duplicate' | 'cancelled' | undefined {
      if (err === null || typeof err !== 'object') return undefined;
      const { code, table, constraint, column } = err as Record<string, unknown>;
      if (code === '23505' && constraint === 'job_runs_pkey') return 'duplicate';
      if (code === '23502' && table === 'job_runs' && column === 'status') return 'cancelled';
      return undefined;
    },

    /** A run that `continues` elsewhere has ended: records how, in the caller's transaction. */
    async finish(trx: Knex.Transaction, record: RunRecord): Promise<void> {
      await trx.raw(
        `update ${schema}.job_runs set status = ?, stats = ?::jsonb, finished_at = ?
          where job_id = ? and run = ?`,
        [
          record.status,
          record.stats === null ? null : JSON.stringify(record.stats),
          record.at,
          record.jobId,
          record.run,
        ],
      );
    },

    /** Counts one more delivery of the run that came back without an outcome; returns the count. */
    async countCrash(jobId: string, run: number, at: Date): Promise<number> {
      const { rows } = await knex.raw<{ rows: { crashes: number }[] }>(
        `insert into ${schema}.job_crashes as c (job_id, run, crashes, at) values (?, ?, 1, ?)
         on conflict (job_id, run) do update set crashes = c.crashes + 1, at = excluded.at
         returning crashes`,
        [jobId, run, at],
      );
      return rows[0]?.crashes ?? 1;
    },

    /**
     * The run's delivery will come back although its worker did not die (its channel closed while
     * it ran): the next count of a crash of this run is taken back in advance. Bounded harm if
     * the delivery does not come back after all (the broker had its ack): that run's crash loop
     * is noticed one delivery later.
     */
    async release(jobId: string, run: number, at: Date): Promise<void> {
      await knex.raw(
        `insert into ${schema}.job_crashes as c (job_id, run, crashes, at) values (?, ?, -1, ?)
         on conflict (job_id, run) do update set crashes = c.crashes - 1, at = excluded.at`,
        [jobId, run, at],
      );
    },

    /** Stores a cancellation and tells every replica's cancel watch, once it commits. */
    async cancel(jobId: string, run: number, at: Date): Promise<void> {
      await knex.raw(
        `with stored as (
           insert into ${schema}.cancelled_jobs (job_id, run, at) values (?, ?, ?)
           on conflict do nothing
           returning job_id, run)
         select pg_notify(?, job_id || ':' || run) from stored`,
        [jobId, run, at, cancellationChannel(schema)],
      );
    },

    async isCancelled(jobId: string, run: number): Promise<boolean> {
      const { rows } = await knex.raw<{ rows: unknown[] }>(
        `select 1 from ${schema}.cancelled_jobs where job_id = ? and run = ?`,
        [jobId, run],
      );
      return rows.length > 0;
    },

    /** What became of runs, for the ledger's reconciliation: absent ones are not finished here. */
    async outcomes(runs: { jobId: string; run: number }[]): Promise<RunRecord[]> {
      if (runs.length === 0) return [];
      const { rows } = await knex.raw<{
        rows: {
          job_id: string;
          run: number;
          attempt: number;
          status: RunStatus;
          stats: JobStats | null;
          finished_at: Date;
        }[];
      }>(
        `select r.* from ${schema}.job_runs r
           join unnest(?::uuid[], ?::int[]) as q(job_id, run) using (job_id, run)`,
        [runs.map((r) => r.jobId), runs.map((r) => r.run)],
      );
      return rows.map((r) => ({
        jobId: r.job_id,
        run: r.run,
        attempt: r.attempt,
        status: r.status,
        stats: r.stats,
        at: r.finished_at,
      }));
    },
  };
}

export type JobRunRepository = ReturnType<typeof createJobRunRepository>;
