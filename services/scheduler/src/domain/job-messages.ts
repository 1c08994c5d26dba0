import {
  EXCHANGES,
  jobCancelRequested,
  jobDeadLettered,
  jobRun,
  scheduleAutoPaused,
  type Job,
  type PayloadOf,
  type TaskType,
} from '@psc/contracts';
import { createEnvelope, type OutboxMessage } from '@psc/messaging';

/** The payload of the `job.run` of a ledger row's current run. */
export function jobRunPayload(job: Job): PayloadOf<typeof jobRun> {
  return {
    jobId: job.id,
    run: job.run,
    platformId: job.platformId,
    resource: job.resource,
    taskType: job.taskType,
    priority: job.priority,
    trigger: job.trigger,
    params: job.params,
    ...(job.traceId ? { traceId: job.traceId } : {}),
  };
}

/**
 * The `job.run` of a ledger row's current run, by the job's priority; published under
 * `traceParent` (a span of the job's trace) when given.
 */
export function jobRunMessage(
  job: Job,
  now: Date,
  correlationId?: string,
  traceParent?: string,
): OutboxMessage {
  return {
    exchange: EXCHANGES.jobs,
    routingKey: job.taskType,
    priority: job.priority,
    envelope: createEnvelope(jobRun, jobRunPayload(job), {
      correlationId: correlationId ?? job.id,
      now,
    }),
    // Its spans go in the trace its record names, not in the batch's that wrote it.
    ...(job.traceId ? { traceId: job.traceId } : {}),
    ...(traceParent ? { traceParent } : {}),
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

/** A job the ledger just put into the dead-letter queue, for whoever notifies people of it. */
export function deadLetteredMessage(job: Job, now: Date): OutboxMessage {
  return {
    exchange: EXCHANGES.events,
    routingKey: jobDeadLettered.type,
    envelope: createEnvelope(
      jobDeadLettered,
      {
        jobId: job.id,
        run: job.run,
        platformId: job.platformId,
        resource: job.resource,
        taskType: job.taskType,
        trigger: job.trigger,
        status: job.status === 'dead' ? 'dead' : 'failed',
        attempts: job.attempts,
        error: job.error,
        at: job.finishedAt ?? now.toISOString(),
      },
      { correlationId: job.id, now },
    ),
  };
}

/** A schedule the scheduler paused by itself. */
export function autoPausedMessage(
  key: { platformId: string; resource: string; taskType: TaskType },
  reason: string,
  now: Date,
): OutboxMessage {
  return {
    exchange: EXCHANGES.events,
    routingKey: scheduleAutoPaused.type,
    envelope: createEnvelope(
      scheduleAutoPaused,
      { ...key, reason: reason.slice(0, 1_000), at: now.toISOString() },
      { now },
    ),
  };
}
