import type { Knex } from 'knex';
import type { JobStats } from '@psc/contracts';

export function createJobRunRepository(knex: Knex) {
  const runs = (q: Knex | Knex.Transaction = knex) => q.withSchema('sync').table('job_runs');
  return {
    async isFinished(jobId: string): Promise<boolean> {
      return (await runs().where({ job_id: jobId }).first('job_id')) !== undefined;
    },
    /** Whether the job already finished here, and whether it was cancelled: one round trip. */
    async state(jobId: string): Promise<{ finished: boolean; cancelled: boolean }> {
      const { rows } = await knex.raw<{ rows: { finished: boolean; cancelled: boolean }[] }>(
        `select exists (select 1 from sync.job_runs where job_id = ?) as finished,
                exists (select 1 from sync.cancelled_jobs where job_id = ?) as cancelled`,
        [jobId, jobId],
      );
      return rows[0]!;
    },
    /** Fails with a unique violation if another delivery of the job finished first. */
    async insert(
      trx: Knex.Transaction,
      run: { jobId: string; attempt: number; stats: JobStats; at: Date },
    ) {
      await runs(trx).insert({
        job_id: run.jobId,
        attempt: run.attempt,
        stats: JSON.stringify(run.stats),
        finished_at: run.at,
      });
    },
  };
}

export type JobRunRepository = ReturnType<typeof createJobRunRepository>;
