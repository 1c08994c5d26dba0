import type { Knex } from 'knex';
import type { DeadLetter, DlqFilter, Envelope, JobRun } from '@psc/contracts';

export interface DeadLetterRow {
  id: string;
  job_id: string | null;
  platform_id: string | null;
  resource: string | null;
  task_type: string | null;
  queue: string;
  reason: string;
  attempts: number;
  priority: number | null;
  envelope: Envelope<JobRun> | null;
  raw: string | null;
  dead_at: Date;
}

export const toDeadLetter = (r: DeadLetterRow): DeadLetter => ({
  id: r.id,
  jobId: r.job_id,
  platformId: r.platform_id,
  resource: r.resource,
  taskType: r.task_type,
  queue: r.queue,
  reason: r.reason,
  attempts: r.attempts,
  deadAt: r.dead_at.toISOString(),
});

/** Dead-lettered job messages, moved here from the broker's dead-letter queue for the API. */
export function createDeadLetterRepository(knex: Knex) {
  const table = (q: Knex | Knex.Transaction = knex) => q.withSchema('sync').table('dead_letters');
  const filtered = (q: Knex.QueryBuilder, f: DlqFilter) => {
    if (f.platformId) void q.where({ platform_id: f.platformId });
    if (f.resource) void q.where({ resource: f.resource });
    if (f.taskType) void q.where({ task_type: f.taskType });
    if (f.reason) void q.whereRaw(`strpos(reason, ?) > 0`, [f.reason]);
    return q;
  };
  return {
    /** Stores one dead letter once, whatever how often the broker hands it over. */
    async insert(row: Omit<DeadLetterRow, 'envelope'> & { envelope: unknown }): Promise<void> {
      await table()
        .insert({ ...row, envelope: row.envelope === null ? null : JSON.stringify(row.envelope) })
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
      return (await q) as DeadLetterRow[];
    },
    /** Locks and removes the matching replayable letters inside `trx`, returning them. */
    async take(
      trx: Knex.Transaction,
      match: { jobId: string } | DlqFilter,
    ): Promise<DeadLetterRow[]> {
      const q = table(trx).whereNotNull('envelope').forUpdate().skipLocked().limit(10_000);
      if ('jobId' in match) void q.where({ job_id: match.jobId });
      else filtered(q, match);
      const rows = (await q.select('*')) as DeadLetterRow[];
      if (rows.length > 0) {
        await table(trx)
          .whereIn(
            'id',
            rows.map((r) => r.id),
          )
          .delete();
      }
      return rows;
    },
    async deleteJob(jobId: string): Promise<number> {
      return table().where({ job_id: jobId }).delete();
    },
  };
}

export type DeadLetterRepository = ReturnType<typeof createDeadLetterRepository>;
