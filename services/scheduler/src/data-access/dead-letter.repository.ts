import type { Knex } from 'knex';
import { JOB_QUEUE_FOR_TASK, type DeadLetter, type DlqFilter, type Job } from '@psc/contracts';
import type { StoredMessage } from '../domain/dead-letter-detail.ts';

interface DeadLetterRow {
  id: string;
  job_id: string | null;
  run: number | null;
  platform_id: string | null;
  resource: string | null;
  task_type: string | null;
  queue: string;
  reason: string;
  attempts: number;
  dead_at: Date;
  message?: StoredMessage | null;
}

export interface PoisonLetter {
  id: string;
  jobId: string | null;
  queue: string;
  reason: string;
  message: StoredMessage;
  deadAt: Date;
}

const toDeadLetter = (r: DeadLetterRow): DeadLetter => ({
  id: r.id,
  jobId: r.job_id,
  run: r.run,
  platformId: r.platform_id,
  resource: r.resource,
  taskType: r.task_type,
  queue: r.queue,
  reason: r.reason,
  attempts: r.attempts,
  replayable: r.job_id !== null && r.run !== null,
  deadAt: r.dead_at.toISOString(),
});

/** The dead-letter queue of the job ledger (scheduler.dead_letters). */
export function createDeadLetterRepository(knex: Knex) {
  const table = (q: Knex | Knex.Transaction = knex) =>
    q.withSchema('scheduler').table('dead_letters');
  const filtered = (q: Knex.QueryBuilder, f: DlqFilter) => {
    if (f.platformId) void q.where({ platform_id: f.platformId });
    if (f.resource) void q.where({ resource: f.resource });
    if (f.taskType) void q.where({ task_type: f.taskType });
    if (f.reason) void q.whereRaw(`strpos(reason, ?) > 0`, [f.reason]);
    return q;
  };
  return {
    /** Dead jobs, in the transaction that marks them dead; a job is in the queue once. */
    async addJobs(trx: Knex.Transaction, jobs: Job[]): Promise<void> {
      if (jobs.length === 0) return;
      await table(trx)
        .insert(
          jobs.map((j) => ({
            id: j.id,
            job_id: j.id,
            run: j.run,
            platform_id: j.platformId,
            resource: j.resource,
            task_type: j.taskType,
            queue: JOB_QUEUE_FOR_TASK[j.taskType],
            reason: j.error ? `${j.error.class}: ${j.error.message}` : j.status,
            attempts: j.attempts,
            dead_at: j.finishedAt ?? j.updatedAt,
          })),
        )
        .onConflict('id')
        .merge();
    },
    /** A message nobody could read; stored once whatever how often the broker hands it over. */
    async addPoison(letter: PoisonLetter): Promise<void> {
      await table()
        .insert({
          id: letter.id,
          job_id: letter.jobId,
          queue: letter.queue,
          reason: letter.reason,
          attempts: 0,
          message: JSON.stringify(letter.message),
          dead_at: letter.deadAt,
        })
        .onConflict('id')
        .ignore();
    },
    async list(f: DlqFilter, before: { deadAt: string; id: string } | undefined, limit: number) {
      const q = filtered(table().select('*'), f)
        .orderBy([
          { column: 'dead_at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(limit);
      if (before) void q.whereRaw('(dead_at, id) < (?, ?)', [before.deadAt, before.id]);
      return ((await q) as DeadLetterRow[]).map(toDeadLetter);
    },
    /**
     * Locks inside `trx` the letters of jobs to replay (others' locks are skipped): a job's by its
     * id, or those of a filter whose jobs the ledger still holds, at most `max`, oldest first;
     * `more` when the filter matches more than that.
     */
    async lockJobLetters(
      trx: Knex.Transaction,
      match: { jobId: string } | DlqFilter,
      max: number,
    ): Promise<{ letters: { id: string; jobId: string }[]; more: boolean }> {
      const q = table(trx).whereNotNull('job_id').whereNotNull('run').forUpdate().skipLocked();
      if ('jobId' in match) void q.where({ job_id: match.jobId });
      else {
        // A letter whose job was purged cannot be replayed: it would match every call.
        void filtered(q, match)
          .whereExists((j) => {
            void j.select(1).from('scheduler.jobs').whereRaw('jobs.id = dead_letters.job_id');
          })
          .orderBy([{ column: 'dead_at' }, { column: 'id' }])
          .limit(max + 1);
      }
      const rows = await q.select<{ id: string; job_id: string }[]>('id', 'job_id');
      return {
        letters: rows.slice(0, max).map((r) => ({ id: r.id, jobId: r.job_id })),
        more: rows.length > max,
      };
    },
    async removeLetters(trx: Knex.Transaction, ids: string[]): Promise<void> {
      if (ids.length > 0) await table(trx).whereIn('id', ids).delete();
    },
    /** The letters of jobs that run again (not poison messages naming them). */
    async removeJobLetters(trx: Knex.Transaction, jobIds: string[]): Promise<void> {
      if (jobIds.length > 0)
        await table(trx).whereIn('job_id', jobIds).whereNotNull('run').delete();
    },
    /**
     * One letter by its id, or the newest naming `jobId` (a poison message that named a job the
     * ledger could not fail), with what is kept of its message.
     */
    async get(
      jobId: string,
    ): Promise<{ letter: DeadLetter; stored: StoredMessage | null } | undefined> {
      const row = (await table()
        .where({ id: jobId })
        .orWhere({ job_id: jobId })
        .orderByRaw('(id = ?) desc', [jobId])
        .orderBy('dead_at', 'desc')
        .first()) as DeadLetterRow | undefined;
      return row ? { letter: toDeadLetter(row), stored: row.message ?? null } : undefined;
    },
    /** How many letters wait, counted up to `cap` (an index-only range, however many there are). */
    async countUpTo(cap: number): Promise<number> {
      const { rows } = await knex.raw<{ rows: { n: number }[] }>(
        `SELECT count(*)::int AS n FROM (SELECT 1 FROM scheduler.dead_letters LIMIT ?) AS t`,
        [cap],
      );
      return rows[0]?.n ?? 0;
    },
    async delete(id: string): Promise<number> {
      return table().where({ id }).delete();
    },
  };
}

export type DeadLetterRepository = ReturnType<typeof createDeadLetterRepository>;
