import type { Knex } from 'knex';
import type { Job, JobListRequest, JobStats, JobStatus } from '@psc/contracts';
import { BadRequestError } from '@psc/core';
import { scheduleKey } from './schedule.repository.ts';
import {
  judgeEvent,
  judgeRequeue,
  progressApplies,
  type LedgerEvent,
  type LedgerState,
} from '../domain/job-transitions.ts';

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
  run_id: string | null;
  past_runs: string[];
  reset_at: Date | null;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
  updated_at: Date;
}

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
    params: row.params,
    stats: row.stats,
    error: row.error,
    traceId: row.trace_id,
    scheduledFor: iso(row.scheduled_for),
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

const OPEN: JobStatus[] = ['queued', 'running', 'retrying'];

const encodeCursor = (row: { created_at: Date; id: string }): string =>
  Buffer.from(`${row.created_at.toISOString()}|${row.id}`).toString('base64url');

function decodeCursor(cursor: string): { createdAt: Date; id: string } | undefined {
  const [at, id] = Buffer.from(cursor, 'base64url').toString().split('|');
  const createdAt = new Date(at ?? '');
  if (!id || !/^[0-9a-f-]{36}$/.test(id) || Number.isNaN(createdAt.getTime())) return undefined;
  return { createdAt, id };
}

const jobRow = (job: Job) => ({
  id: job.id,
  platform_id: job.platformId,
  resource: job.resource,
  task_type: job.taskType,
  status: job.status,
  priority: job.priority,
  trigger: job.trigger,
  attempts: job.attempts,
  params: JSON.stringify(job.params),
  trace_id: job.traceId,
  scheduled_for: job.scheduledFor ? new Date(job.scheduledFor) : null,
  created_at: new Date(job.createdAt),
  updated_at: new Date(job.updatedAt),
});

const ledgerState = (row: JobRow): LedgerState => ({
  status: row.status,
  attempt: row.progress_attempt,
  phase: row.progress_phase,
  runId: row.run_id,
  pastRuns: row.past_runs,
  resetAt: row.reset_at,
});

export interface EventUpdate extends LedgerEvent {
  at: Date;
  /** The correlation id of the run the event belongs to. */
  correlationId: string;
  stats?: JobStats;
  error?: Job['error'];
}

export function createJobRepository(knex: Knex) {
  const jobs = (q: Knex | Knex.Transaction = knex) => q.withSchema('scheduler').table('jobs');

  return {
    async insert(trx: Knex.Transaction, job: Job): Promise<void> {
      await jobs(trx).insert(jobRow(job));
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
      const stamp = { emitted_by: emitter.replicaId, fencing_token: emitter.fencingToken };
      for (let i = 0; i < batch.length; i += 1_000) {
        const rows = await jobs(trx)
          .insert(batch.slice(i, i + 1_000).map((j) => ({ ...jobRow(j), ...stamp })))
          .onConflict(knex.raw('(platform_id, resource, task_type, scheduled_for)'))
          .ignore()
          .returning<{ id: string }[]>('id');
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
      if (request.cursor) {
        const after = decodeCursor(request.cursor);
        if (!after) throw new BadRequestError('invalid cursor');
        query.whereRaw('(created_at, id) < (?, ?)', [after.createdAt, after.id]);
      }
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
        nextCursor: rows.length > request.limit && last ? encodeCursor(last) : null,
      };
    },

    async latestFor(platformId: string, taskType: string): Promise<Job | undefined> {
      const row = (await jobs()
        .where({ platform_id: platformId, task_type: taskType })
        .orderBy([
          { column: 'created_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .first()) as JobRow | undefined;
      return row ? toJob(row) : undefined;
    },

    async lastFinishedAt(platformId: string, taskType: string): Promise<Date | null> {
      const row = (await jobs()
        .where({ platform_id: platformId, task_type: taskType, status: 'succeeded' })
        .max('finished_at as at')
        .first()) as { at: Date | null } | undefined;
      return row?.at ?? null;
    },

    async lockById(trx: Knex.Transaction, id: string): Promise<Job | undefined> {
      const row = (await jobs(trx).where({ id }).forUpdate().first()) as JobRow | undefined;
      return row ? toJob(row) : undefined;
    },

    /**
     * Marks queued jobs cancelled (all of them, or those of `platformIds`); returns their ids so
     * the caller can tell the workers to skip them.
     */
    async cancelQueued(
      trx: Knex.Transaction,
      at: Date,
      reason: string,
      filter: { ids?: string[]; platformIds?: string[] } = {},
    ): Promise<string[]> {
      const query = jobs(trx).where({ status: 'queued' });
      if (filter.ids) query.whereIn('id', filter.ids);
      if (filter.platformIds) query.whereIn('platform_id', filter.platformIds);
      const rows = await query
        .update({
          status: 'cancelled',
          finished_at: at,
          updated_at: at,
          error: JSON.stringify({ message: reason, class: 'Cancelled' }),
        })
        .returning<{ id: string }[]>('id');
      return rows.map((r) => r.id);
    },

    async countByStatus(): Promise<Record<string, number>> {
      const rows = (await jobs()
        .select('status')
        .count<{ status: string; count: string }[]>('* as count')
        .groupBy('status')) as unknown as { status: string; count: string }[];
      return Object.fromEntries(rows.map((r) => [r.status, Number(r.count)]));
    },

    /** Deletes up to `batch` finished jobs older than `before`; returns how many. */
    async purgeFinished(before: Date, batch: number): Promise<number> {
      const res = await knex.raw<{ rowCount: number }>(
        `DELETE FROM ??.jobs WHERE id IN (
           SELECT id FROM ??.jobs WHERE finished_at < ? AND status IN ('succeeded','failed','dead','cancelled')
           LIMIT ?)`,
        ['scheduler', 'scheduler', before, batch],
      );
      return res.rowCount;
    },

    /** Shows a running job's progress; ignored once the job has finished or was requeued. */
    async applyProgress(
      id: string,
      report: { attempt: number; correlationId: string },
      progress: Job['progress'],
    ): Promise<boolean> {
      return knex.transaction(async (trx) => {
        const row = (await jobs(trx).where({ id }).forUpdate().first()) as JobRow | undefined;
        if (!row || !progressApplies(ledgerState(row), report)) return false;
        await jobs(trx)
          .where({ id })
          .update({ progress: JSON.stringify(progress) });
        return true;
      });
    },

    async findById(id: string): Promise<Job | undefined> {
      const row = (await jobs().where({ id }).first()) as JobRow | undefined;
      return row ? toJob(row) : undefined;
    },

    /**
     * Applies a worker's event if it moves the job forward; `wait` means it may belong to a
     * replay not yet seen here (see judgeEvent).
     */
    async applyEvent(id: string, event: EventUpdate): Promise<'applied' | 'ignored' | 'wait'> {
      const judge = async (
        q: Knex | Knex.Transaction,
        row: (JobRow & { row_version: string }) | undefined,
        locked: boolean,
      ): Promise<'applied' | 'ignored' | 'wait' | 'raced'> => {
        if (!row) return 'ignored';
        const verdict = judgeEvent(ledgerState(row), event);
        if (verdict !== 'apply') return verdict === 'wait' ? 'wait' : 'ignored';
        const finished = event.status !== 'running' && event.status !== 'retrying';
        const update = jobs(q).where({ id });
        // Unlocked: compare-and-set on the row version (xmin changes with every update).
        if (!locked) void update.whereRaw('xmin = ?::xid', [row.row_version]);
        const count = await update.update({
          status: event.status,
          progress_attempt: event.attempt,
          progress_phase: event.phase,
          attempts: Math.max(row.attempts, event.attempt),
          started_at: row.started_at ?? event.at,
          updated_at: event.at,
          ...(finished ? { finished_at: event.at } : {}),
          ...(event.stats ? { stats: JSON.stringify(event.stats) as unknown as JobStats } : {}),
          ...(event.error !== undefined
            ? { error: JSON.stringify(event.error) as unknown as Job['error'] }
            : {}),
        });
        return count === 1 ? 'applied' : 'raced';
      };
      const read = async (q: Knex | Knex.Transaction, lock: boolean) => {
        const query = jobs(q).where({ id }).select('*', knex.raw('xmin::text as row_version'));
        if (lock) void query.forUpdate();
        return (await query.first()) as (JobRow & { row_version: string }) | undefined;
      };
      // Two statements, no transaction: read, judge, write only if nobody wrote in between
      // (issue 7: a locking transaction per event cost four round trips). After repeated
      // races (a busy job), the row is locked as before.
      for (let tries = 0; tries < 3; tries += 1) {
        const outcome = await judge(knex, await read(knex, false), false);
        if (outcome !== 'raced') return outcome;
      }
      return knex.transaction(async (trx) => {
        const outcome = await judge(trx, await read(trx, true), true);
        return outcome === 'raced' ? 'ignored' : outcome;
      });
    },

    /**
     * A replay runs the job again: it shows as queued with trigger `replay`, attempts counted
     * afresh, and earlier runs' events no longer apply.
     */
    async applyRequeue(
      id: string,
      requeue: { runId: string; at: Date },
    ): Promise<'reset' | 'retire' | 'ignore'> {
      return knex.transaction(async (trx) => {
        const row = (await jobs(trx).where({ id }).forUpdate().first()) as JobRow | undefined;
        if (!row) return 'ignore';
        const verdict = judgeRequeue(ledgerState(row), requeue);
        if (verdict === 'retire') {
          await jobs(trx)
            .where({ id })
            .update({ past_runs: JSON.stringify([...row.past_runs, requeue.runId]) });
        }
        if (verdict !== 'reset') return verdict;
        await jobs(trx)
          .where({ id })
          .update({
            trigger: 'replay',
            run_id: requeue.runId,
            past_runs: JSON.stringify(row.run_id ? [...row.past_runs, row.run_id] : row.past_runs),
            reset_at: requeue.at,
            status: 'queued',
            attempts: 0,
            progress_attempt: 0,
            progress_phase: 0,
            progress: null,
            stats: null,
            error: null,
            started_at: null,
            finished_at: null,
            updated_at: requeue.at,
          });
        return verdict;
      });
    },
  };
}

export type JobRepository = ReturnType<typeof createJobRepository>;
