import type { Knex } from 'knex';
import {
  FINAL_JOB_STATUSES,
  LIVE_JOB_STATUSES,
  jobCursor,
  type Job,
  type JobListRequest,
  type JobStats,
  type JobStatus,
  type TaskType,
} from '@psc/contracts';
import { preparedByText, runPrepared, type PreparedStatement, type RetentionRule } from '@psc/db';
import type { OutboxPart } from '@psc/messaging';
import { scheduleKey } from './schedule.repository.ts';
import type { LedgerEntry } from '../domain/job-ledger.ts';

interface JobRow {
  id: string;
  platform_id: string;
  resource: string;
  task_type: Job['taskType'];
  status: JobStatus;
  priority: number;
  trigger: Job['trigger'];
  attempts: number;
  params: Record<string, unknown>;
  stats: JobStats | null;
  error: Job['error'];
  trace_id: string | null;
  scheduled_for: Date | null;
  emitted_by: string | null;
  fencing_token: string | null;
  progress: Job['progress'];
  progress_attempt: number;
  progress_phase: number;
  position_at: Date | null;
  run: number;
  next_attempt_at: Date | null;
  backfill_id: string | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

/** Every column of {@link JobRow}, for the prepared read (see runPrepared on `select *`). */
const JOB_COLUMNS = [
  'id',
  'platform_id',
  'resource',
  'task_type',
  'status',
  'priority',
  'trigger',
  'attempts',
  'params',
  'stats',
  'error',
  'trace_id',
  'scheduled_for',
  'emitted_by',
  'fencing_token',
  'progress',
  'progress_attempt',
  'progress_phase',
  'position_at',
  'run',
  'next_attempt_at',
  'backfill_id',
  'created_at',
  'started_at',
  'finished_at',
  'updated_at',
] as const satisfies readonly (keyof JobRow)[];
// A column added to JobRow and not named above fails the build here.
const allColumns: Exclude<keyof JobRow, (typeof JOB_COLUMNS)[number]> extends never ? true : never =
  true;
void allColumns;

/** Reads of jobs by id: the gateway's most frequent question, batched (job.rpc.ts). */
const JOBS_BY_IDS: PreparedStatement = {
  name: 'scheduler.jobs.by-ids',
  text: `select ${JOB_COLUMNS.join(', ')} from scheduler.jobs where id = any($1::uuid[])`,
};

/**
 * The ledger's two statements per batch of worker reports (lock, then write what the transition
 * computed): prepared, they are parsed and planned once per connection, however many jobs.
 */
const LOCK_ENTRIES: PreparedStatement = {
  name: 'scheduler.jobs.lock-entries',
  text: `select ${JOB_COLUMNS.join(', ')} from scheduler.jobs
          where id = any($1::uuid[]) order by id for update`,
};

const SAVE_ENTRIES: PreparedStatement = {
  name: 'scheduler.jobs.save-entries',
  text: `update scheduler.jobs j set
           status = v.status, run = v.run, trigger = v.trigger, attempts = v.attempts,
           progress = v.progress, stats = v.stats, error = v.error,
           next_attempt_at = v.next_attempt_at, started_at = v.started_at,
           finished_at = v.finished_at, updated_at = v.updated_at,
           progress_attempt = v.progress_attempt, progress_phase = v.progress_phase,
           position_at = v.position_at, params = v.params, backfill_id = v.backfill_id
         from jsonb_to_recordset($1::jsonb) as v(
           id uuid, status text, run int, trigger text, attempts int, progress jsonb,
           stats jsonb, error jsonb, next_attempt_at timestamptz, started_at timestamptz,
           finished_at timestamptz, updated_at timestamptz, progress_attempt int,
           progress_phase smallint, position_at timestamptz, params jsonb, backfill_id uuid)
         where j.id = v.id`,
};

const iso = (d: Date | null): string | null => (d ? d.toISOString() : null);

function toJob(row: JobRow): Job {
  return {
    id: row.id,
    platformId: row.platform_id,
    resource: row.resource,
    taskType: row.task_type,
    status: row.status,
    priority: row.priority,
    trigger: row.trigger,
    attempts: row.attempts,
    run: row.run,
    params: row.params,
    stats: row.stats,
    error: row.error,
    nextAttemptAt: iso(row.next_attempt_at),
    traceId: row.trace_id,
    scheduledFor: iso(row.scheduled_for),
    backfillId: row.backfill_id ?? null,
    emittedBy: row.emitted_by
      ? { replicaId: row.emitted_by, fencingToken: Number(row.fencing_token) }
      : null,
    progress: row.progress ?? null,
    createdAt: row.created_at.toISOString(),
    startedAt: iso(row.started_at),
    finishedAt: iso(row.finished_at),
    updatedAt: row.updated_at.toISOString(),
  };
}

const OPEN: JobStatus[] = ['queued', 'running', 'retrying', 'waiting'];

/** A new job's columns, and the record `jsonb_to_recordset` reads them from. */
const NEW_JOB_COLUMNS = `id, platform_id, resource, task_type, status, priority, trigger, attempts,
  run, params, trace_id, scheduled_for, backfill_id, created_at, updated_at`;
const NEW_JOB_RECORD = `j(id uuid, platform_id uuid, resource text, task_type text,
  status text, priority smallint, trigger text, attempts integer, run integer, params jsonb,
  trace_id text, scheduled_for timestamptz, backfill_id uuid, created_at timestamptz,
  updated_at timestamptz)`;

/**
 * New jobs as one record each of `jsonb_to_recordset`, inserted by a CTE of the statement that
 * also writes their `job.run` messages to the outbox: an enqueue is one autocommitted round trip.
 * Each record names the revision of its platform's projection the jobs were made from; a platform
 * no longer at that revision, active and not deleted makes its jobs' `platform_id` null, which
 * the column refuses, so the whole statement fails (the jobs and their `job.run`s) and
 * {@link StalePlatformError} says why.
 */
const NEW_JOBS = `new_jobs as (
  insert into scheduler.jobs (${NEW_JOB_COLUMNS})
  select j.id,
         (select p.id from scheduler.platforms p
           where p.id = j.platform_id and p.revision = j.platform_revision and p.active
             and not p.deleted),
         j.resource, j.task_type, j.status, j.priority, j.trigger, j.attempts, j.run, j.params,
         j.trace_id, j.scheduled_for, j.backfill_id, j.created_at, j.updated_at
    from jsonb_to_recordset(?::jsonb) as j(id uuid, platform_id uuid, platform_revision integer,
         resource text, task_type text, status text, priority smallint, trigger text,
         attempts integer, run integer, params jsonb, trace_id text, scheduled_for timestamptz,
         backfill_id uuid, created_at timestamptz, updated_at timestamptz))`;

/** An enqueue found a platform changed since its jobs were made from it (see NEW_JOBS). */
export class StalePlatformError extends Error {
  override name = 'StalePlatformError';
}

/** Scheduled runs per statement of {@link INSERT_SCHEDULED}. */
const SCHEDULED_CHUNK = 5_000;

/**
 * A tick's scheduled runs (and a backfill's), stamped with the leader that emitted them; a run
 * some leader already made (same schedule and fire time, `jobs_dedupe`) is skipped, and only new
 * ids come back. A scheduled run a stop committed since its plan forbids is skipped too: the
 * scheduler stopped, its platform unschedulable, its collector stopped. The tick writes under the
 * switches' lock (switch-lock.ts), so this reads every stop that committed before the write.
 */
const INSERT_SCHEDULED = `insert into scheduler.jobs (${NEW_JOB_COLUMNS}, emitted_by, fencing_token)
  select ${NEW_JOB_COLUMNS}, ?::text, ?::bigint from jsonb_to_recordset(?::jsonb) as ${NEW_JOB_RECORD}
   where j.trigger <> 'schedule'
      or ((select c.state from scheduler.control c where c.id = 1) = 'running'
          and exists (select 1 from scheduler.platforms p
                       where p.id = j.platform_id and p.active and not p.deleted and p.sync_enabled)
          and not (j.task_type = 'collect'
                   and exists (select 1 from scheduler.collect_stops s
                                where s.platform_id = j.platform_id and s.resource = j.resource)))
  on conflict (platform_id, resource, task_type, scheduled_for) do nothing
  returning id`;

/** A new job's row: one record of NEW_JOBS's and INSERT_SCHEDULED's `jsonb_to_recordset`. */
const jobRow = (job: Job) => ({
  id: job.id,
  platform_id: job.platformId,
  resource: job.resource,
  task_type: job.taskType,
  status: job.status,
  priority: job.priority,
  trigger: job.trigger,
  attempts: job.attempts,
  run: job.run,
  params: job.params,
  trace_id: job.traceId,
  scheduled_for: job.scheduledFor,
  backfill_id: job.backfillId ?? null,
  created_at: job.createdAt,
  updated_at: job.updatedAt,
});

const toEntry = (row: JobRow): LedgerEntry => ({
  job: toJob(row),
  position: {
    attempt: row.progress_attempt,
    phase: row.progress_phase,
    at: iso(row.position_at),
  },
});

/** Columns a ledger transition changes, as one record of `jsonb_to_recordset`. */
const entryRecord = ({ job, position }: LedgerEntry) => ({
  id: job.id,
  status: job.status,
  run: job.run,
  trigger: job.trigger,
  attempts: job.attempts,
  progress: job.progress ?? null,
  stats: job.stats,
  error: job.error,
  next_attempt_at: job.nextAttemptAt,
  started_at: job.startedAt,
  finished_at: job.finishedAt,
  updated_at: job.updatedAt,
  progress_attempt: position.attempt,
  progress_phase: position.phase,
  position_at: position.at,
  params: job.params,
  backfill_id: job.backfillId ?? null,
});

/**
 * Finished jobs are kept `keepMs` after they finished (`PSC_JOB_RETENTION_DAYS`); open ones stay
 * however old. A dead job's letter outlives it (`dead_letters` has no key to the row).
 */
export const jobRetention = (keepMs: number): RetentionRule => ({
  name: 'finished jobs',
  table: 'scheduler.jobs',
  column: 'finished_at',
  keepMs,
  only: `status in (${FINAL_JOB_STATUSES.map((status) => `'${status}'`).join(', ')})`,
});

export function createJobRepository(knex: Knex) {
  const jobs = (q: Knex | Knex.Transaction = knex) => q.withSchema('scheduler').table('jobs');

  /** The jobs of `ids` that exist, by id: one query for a batch of single-job reads. */
  async function findByIds(ids: string[]): Promise<Map<string, Job>> {
    const rows = await runPrepared<JobRow>(knex, JOBS_BY_IDS, [[...new Set(ids)]]);
    return new Map(rows.map((r) => [r.id, toJob(r)]));
  }

  /** By the outbox's part (one text per outbox): prepared once per connection. */
  const insertWithText = preparedByText('scheduler.jobs.insert+outbox');

  return {
    /**
     * Inserts new jobs in the statement that writes the outbox's `part` (their `job.run`s), as
     * `outbox.emit` runs it; returns the outbox's seqs.
     */
    async insertWith(
      part: OutboxPart,
      batch: Job[],
      /** The revision of each platform's projection the jobs were made from. */
      revisions: ReadonlyMap<string, number>,
    ): Promise<(string | number)[] | null> {
      const records = batch.map((job) => ({
        ...jobRow(job),
        platform_revision: revisions.get(job.platformId) ?? null,
      }));
      try {
        const rows = await runPrepared<{ outbox_seqs: string[] | null }>(
          knex,
          insertWithText(`with ${part.cte}, ${NEW_JOBS} select ${part.seqs} as outbox_seqs`),
          [...part.bindings, JSON.stringify(records)],
        );
        return rows[0]?.outbox_seqs ?? null;
      } catch (err) {
        const { code, table, column } = (err ?? {}) as Record<string, unknown>;
        if (code === '23502' && table === 'jobs' && column === 'platform_id') {
          throw new StalePlatformError('a platform changed since its jobs were made');
        }
        throw err;
      }
    },

    /**
     * Inserts scheduled jobs stamped with the leader and fencing token that emitted them,
     * skipping any whose (platform, resource, task, scheduledFor) is already there; returns the
     * ids actually inserted.
     */
    async insertScheduled(
      trx: Knex.Transaction,
      batch: Job[],
      emitter: { replicaId: string; fencingToken: number },
    ): Promise<Set<string>> {
      const inserted = new Set<string>();
      // One JSON document per statement, not a knex insert of a bind parameter per column and
      // row: 10,000 runs due together took a third of the tick to build and bind that way.
      for (let i = 0; i < batch.length; i += SCHEDULED_CHUNK) {
        const { rows } = await trx.raw<{ rows: { id: string }[] }>(INSERT_SCHEDULED, [
          emitter.replicaId,
          emitter.fencingToken,
          JSON.stringify(batch.slice(i, i + SCHEDULED_CHUNK).map(jobRow)),
        ]);
        for (const r of rows) inserted.add(r.id);
      }
      return inserted;
    },

    /** (platform, resource, task) keys with a job queued or running, for `overlap: skip`. */
    async openKeys(q: Knex | Knex.Transaction = knex): Promise<Set<string>> {
      const rows = (await jobs(q)
        .distinct('platform_id', 'resource', 'task_type')
        .whereIn('status', OPEN)) as JobRow[];
      return new Set(rows.map((r) => scheduleKey(r.platform_id, r.resource, r.task_type)));
    },

    async list(request: JobListRequest): Promise<{ items: Job[]; nextCursor: string | null }> {
      const query = jobs();
      if (request.status) query.where('status', request.status);
      if (request.platformId) query.where('platform_id', request.platformId);
      if (request.resource) query.where('resource', request.resource);
      if (request.taskType) query.where('task_type', request.taskType);
      if (request.since) query.where('created_at', '>=', new Date(request.since));
      // A backfill's jobs are its steps' runs, those it took over included: a job whose day
      // two backfills covered is listed under both (`backfill_id` names only the last).
      if (request.backfillId) {
        query.whereIn(
          'id',
          knex
            .withSchema('scheduler')
            .from('backfill_steps')
            .where('backfill_id', request.backfillId)
            .whereNotNull('job_id')
            .select('job_id'),
        );
      }
      const after = jobCursor.decode(request.cursor);
      if (after) query.whereRaw('(created_at, id) < (?, ?)', [after.createdAt, after.id]);
      const rows = (await query
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(request.limit + 1)) as JobRow[];
      const page = rows.slice(0, request.limit);
      const last = page.at(-1);
      return {
        items: page.map(toJob),
        nextCursor:
          rows.length > request.limit && last
            ? jobCursor.encode({ createdAt: last.created_at.toISOString(), id: last.id })
            : null,
      };
    },

    /**
     * The platform's newest job of `taskType`: per resource of the platform the newest by the
     * (platform, resource, task, created_at) index, then the newest of those — the console asks
     * for every listed platform every few seconds, and ordering all of a platform's jobs read
     * its whole retained history each time.
     */
    async latestFor(platformId: string, taskType: string): Promise<Job | undefined> {
      const { rows } = await knex.raw<{ rows: JobRow[] }>(
        `select j.* from scheduler.platforms p
          cross join lateral jsonb_to_recordset(p.resources) as r(name text)
          cross join lateral (
                select * from scheduler.jobs
                 where platform_id = p.id and resource = r.name and task_type = ?
                 order by created_at desc, id desc
                 limit 1) j
          where p.id = ?
          order by j.created_at desc, j.id desc
          limit 1`,
        [taskType, platformId],
      );
      return rows[0] ? toJob(rows[0]) : undefined;
    },

    /**
     * When the platform's newest succeeded job of `taskType` finished, found like
     * {@link latestFor} (a max() over the platform's succeeded jobs read them all).
     */
    async lastFinishedAt(platformId: string, taskType: string): Promise<Date | null> {
      const { rows } = await knex.raw<{ rows: { at: Date | null }[] }>(
        `select max(j.finished_at) as at from scheduler.platforms p
          cross join lateral jsonb_to_recordset(p.resources) as r(name text)
          cross join lateral (
                select finished_at from scheduler.jobs
                 where platform_id = p.id and resource = r.name and task_type = ?
                   and status = 'succeeded'
                 order by created_at desc
                 limit 1) j
          where p.id = ?`,
        [taskType, platformId],
      );
      return rows[0]?.at ?? null;
    },

    async lockById(trx: Knex.Transaction, id: string): Promise<Job | undefined> {
      const row = (await jobs(trx).where({ id }).forUpdate().first()) as JobRow | undefined;
      return row ? toJob(row) : undefined;
    },

    /**
     * Marks queued jobs cancelled (all of them, or those matching `filter`; at most `limit`,
     * oldest first, when given, leaving rows another transaction has locked for a later call);
     * returns them so the caller can tell the workers to skip their runs.
     */
    async cancelQueued(
      trx: Knex.Transaction,
      at: Date,
      reason: string,
      filter: {
        ids?: string[];
        platformIds?: string[];
        /** The scheduled runs of these (platform, resource) pairs' task. */
        scheduled?: { taskType: TaskType; resources: { platformId: string; resource: string }[] };
        createdBefore?: Date;
        limit?: number;
      } = {},
    ): Promise<{ id: string; run: number; taskType: TaskType }[]> {
      const matching = <Q extends Knex.QueryBuilder>(q: Q): Q => {
        void q.where({ status: 'queued' });
        if (filter.ids) void q.whereIn('id', filter.ids);
        if (filter.platformIds) void q.whereIn('platform_id', filter.platformIds);
        if (filter.scheduled) {
          const { taskType, resources } = filter.scheduled;
          void q.where({ task_type: taskType, trigger: 'schedule' }).whereIn(
            ['platform_id', 'resource'],
            resources.map((r) => [r.platformId, r.resource]),
          );
        }
        if (filter.createdBefore) void q.where('created_at', '<=', filter.createdBefore);
        return q;
      };
      const query =
        filter.limit === undefined
          ? matching(jobs(trx))
          : jobs(trx).whereIn(
              'id',
              matching(jobs(trx).select('id'))
                .orderBy('created_at')
                .limit(filter.limit)
                .forUpdate()
                .skipLocked(),
            );
      const rows = await query
        .update({
          status: 'cancelled',
          finished_at: at,
          updated_at: at,
          error: JSON.stringify({ message: reason, class: 'Cancelled' }),
        })
        .returning<{ id: string; run: number; task_type: TaskType }[]>(['id', 'run', 'task_type']);
      return rows.map((r) => ({ id: r.id, run: r.run, taskType: r.task_type }));
    },

    /**
     * Jobs per status among the runs not yet over (an index range on `(status, created_at)` per
     * status), and among those that finished since `finishedSince` (a range of the `finished_at`
     * index): never a scan of the whole retained ledger. Statuses without jobs are absent.
     */
    async countByStatus(finishedSince: Date): Promise<Record<string, number>> {
      const { rows } = await knex.raw<{ rows: { status: string; count: number }[] }>(
        `SELECT status, count(*)::int AS count FROM scheduler.jobs
          WHERE status = ANY(?::text[]) GROUP BY status
         UNION ALL
         SELECT status, count(*)::int AS count FROM scheduler.jobs
          WHERE finished_at >= ? AND status = ANY(?::text[]) GROUP BY status`,
        [[...LIVE_JOB_STATUSES], finishedSince, [...FINAL_JOB_STATUSES]],
      );
      return Object.fromEntries(rows.map((r) => [r.status, r.count]));
    },

    findByIds,

    async findById(id: string): Promise<Job | undefined> {
      return (await findByIds([id])).get(id);
    },

    /** Open jobs no report has changed since `before` (oldest first): the reconciliation's. */
    async staleOpen(
      before: Date,
      limit: number,
    ): Promise<{ id: string; run: number; taskType: Job['taskType'] }[]> {
      const rows = await jobs()
        .whereIn('status', OPEN)
        .where('updated_at', '<', before)
        .orderBy('updated_at')
        .limit(limit)
        .select<{ id: string; run: number; task_type: Job['taskType'] }[]>(
          'id',
          'run',
          'task_type',
        );
      return rows.map((r) => ({ id: r.id, run: r.run, taskType: r.task_type }));
    },

    /** Locks the rows of `ids` for a ledger transition (in id order: no deadlock between replicas). */
    async lockEntries(trx: Knex.Transaction, ids: string[]): Promise<Map<string, LedgerEntry>> {
      const rows = await runPrepared<JobRow>(trx, LOCK_ENTRIES, [[...new Set(ids)]]);
      return new Map(rows.map((r) => [r.id, toEntry(r)]));
    },

    /** Writes the rows a ledger transition computed, in one statement. */
    async saveEntries(trx: Knex.Transaction, entries: LedgerEntry[]): Promise<void> {
      if (entries.length === 0) return;
      await runPrepared(trx, SAVE_ENTRIES, [JSON.stringify(entries.map(entryRecord))]);
    },
  };
}

export type JobRepository = ReturnType<typeof createJobRepository>;
