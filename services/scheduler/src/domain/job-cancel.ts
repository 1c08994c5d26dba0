import type { Knex } from 'knex';
import type { Job } from '@psc/contracts';
import { ConflictError, NotFoundError, type Clock } from '@psc/core';
import type { Outbox } from '@psc/messaging';
import type { JobRepository } from '../data-access/job.repository.ts';
import { cancelMessage } from './job-messages.ts';
import { TERMINAL } from './job-transitions.ts';

/**
 * Cancels a job: a queued one is marked cancelled here (the worker skips it on sight); a running
 * one keeps its status until the worker stops at its next page and reports `cancelled`.
 */
export function createJobCancel(deps: {
  knex: Knex;
  clock: Clock;
  outbox: Outbox;
  jobs: JobRepository;
}) {
  return async function cancel(id: string, reason?: string): Promise<Job> {
    const now = deps.clock.now();
    await deps.knex.transaction(async (trx) => {
      const job = await deps.jobs.lockById(trx, id);
      if (!job) throw new NotFoundError(`job ${id} not found`);
      if (TERMINAL.includes(job.status))
        throw new ConflictError(`job ${id} is already ${job.status}`, { status: job.status });
      if (job.status === 'queued')
        await deps.jobs.cancelQueued(trx, now, reason ?? 'cancelled by operator', { ids: [id] });
      await deps.outbox.write(trx, [cancelMessage(id, now, reason ?? 'cancelled by operator')]);
    });
    deps.outbox.wake();
    return (await deps.jobs.findById(id))!;
  };
}
