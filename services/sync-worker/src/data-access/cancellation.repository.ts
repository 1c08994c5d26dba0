import type { Knex } from 'knex';

/** Jobs the scheduler asked to cancel; every replica checks here before and between pages. */
export function createCancellationRepository(knex: Knex) {
  return {
    async add(jobId: string, at: Date): Promise<void> {
      await knex.raw(
        `insert into sync.cancelled_jobs (job_id, at) values (?, ?) on conflict do nothing`,
        [jobId, at],
      );
    },
    async isCancelled(jobId: string): Promise<boolean> {
      const row = (await knex
        .withSchema('sync')
        .table('cancelled_jobs')
        .where({ job_id: jobId })
        .first('job_id')) as unknown;
      return row !== undefined;
    },
  };
}

export type CancellationRepository = ReturnType<typeof createCancellationRepository>;
