import { JOB_READ_BATCH, jobGetMany, type Job } from '@psc/contracts';
import { NotFoundError, createCoalescer } from '@psc/core';
import type { RpcClient } from '@psc/messaging';

/**
 * Job reads through the scheduler, coalesced: reads that arrive while a call is on its way go
 * together in the next one (`job.get-many`: one query, each id asked once). A call per read
 * cost the broker a request and a reply, and the scheduler a delivery, a validation and an
 * answer, per read: under 50 polling clients that was most of a read's cost (bench scenario 3).
 * A lone read still goes at once, and every read's call starts after it arrived, so it sees each
 * change committed before it was asked. Two calls may be in flight, so a read waits at most for
 * one call ahead of it.
 */
export function createJobReader(rpc: RpcClient<'gateway'>) {
  const read = createCoalescer<string, Job | undefined>({
    send: async (ids) => {
      const { jobs } = await rpc.call(jobGetMany, { ids: [...new Set(ids)] });
      const byId = new Map(jobs.map((j) => [j.id, j]));
      return ids.map((id) => byId.get(id));
    },
    maxBatch: JOB_READ_BATCH,
    maxInFlight: 2,
  });
  return async (id: string): Promise<Job> => {
    const job = await read(id);
    if (!job) throw new NotFoundError(`job ${id} not found`);
    return job;
  };
}

export type JobReader = ReturnType<typeof createJobReader>;
