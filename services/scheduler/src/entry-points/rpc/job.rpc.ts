import { jobGet, jobRunNow } from '@psc/contracts';
import { NotFoundError } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { JobRepository } from '../../data-access/job.repository.ts';
import type { createRunNow } from '../../domain/run-now.ts';

export function jobRpcHandlers(deps: {
  jobs: JobRepository;
  runNow: ReturnType<typeof createRunNow>;
}): RpcHandler[] {
  return [
    rpcHandler(jobRunNow, (request, ctx) => deps.runNow(request, ctx.correlationId)),
    rpcHandler(jobGet, async ({ id }) => {
      const job = await deps.jobs.findById(id);
      if (!job) throw new NotFoundError(`job ${id} not found`);
      return job;
    }),
  ];
}
