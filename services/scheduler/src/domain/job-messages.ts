import { EXCHANGES, jobCancelRequested, jobRun, type Job } from '@psc/contracts';
import { createEnvelope, type OutboxMessage } from '@psc/messaging';

/** The `job.run` of a ledger row's current run, by the job's priority. */
export function jobRunMessage(job: Job, now: Date, correlationId?: string): OutboxMessage {
  return {
    exchange: EXCHANGES.jobs,
    routingKey: job.taskType,
    priority: job.priority,
    envelope: createEnvelope(
      jobRun,
      {
        jobId: job.id,
        run: job.run,
        platformId: job.platformId,
        resource: job.resource,
        taskType: job.taskType,
        priority: job.priority,
        trigger: job.trigger,
        params: job.params,
        ...(job.traceId ? { traceId: job.traceId } : {}),
      },
      { correlationId: correlationId ?? job.id, now },
    ),
  };
}

export function cancelMessage(
  job: Pick<Job, 'id' | 'run'>,
  now: Date,
  reason?: string,
): OutboxMessage {
  return {
    exchange: EXCHANGES.events,
    routingKey: jobCancelRequested.type,
    envelope: createEnvelope(
      jobCancelRequested,
      {
        jobId: job.id,
        run: job.run,
        at: now.toISOString(),
        ...(reason ? { reason: reason.slice(0, 500) } : {}),
      },
      { correlationId: job.id, now },
    ),
  };
}
