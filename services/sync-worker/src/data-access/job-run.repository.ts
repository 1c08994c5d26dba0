import type { Knex } from 'knex';
import type { JobStats } from '@psc/contracts';

export function createJobRunRepository(knex: Knex) {
  const runs = (q: Knex | Knex.Transaction = knex) => q.withSchema('sync').table('job_runs');
  return {
    async isFinished(jobId: string): Promise<boolean> {
      return (await runs().where({ job_id: jobId }).first('job_id')) !== undefined;
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
