import { EXCHANGES, jobCancelRequested, jobRun, type Job } from '@psc/contracts';
import type { Knex } from 'knex';
import { createEnvelope, type Outbox, type OutboxMessage } from '@psc/messaging';

/** The job message for a ledger row; its envelope id is the job id, so workers can dedupe. */
export function jobRunMessage(job: Job, now: Date, correlationId?: string): OutboxMessage {
  return {
    exchange: EXCHANGES.jobs,
    routingKey: job.taskType,
    priority: job.priority,
    envelope: createEnvelope(
      jobRun,
      {
        jobId: job.id,
        platformId: job.platformId,
        resource: job.resource,
        taskType: job.taskType,
        priority: job.priority,
        trigger: job.trigger,
        params: job.params,
      },
      { id: job.id, correlationId: correlationId ?? job.id, now },
    ),
  };
}

export function cancelMessage(jobId: string, now: Date, reason?: string): OutboxMessage {
  return {
    exchange: EXCHANGES.events,
    routingKey: jobCancelRequested.type,
    envelope: createEnvelope(
      jobCancelRequested,
      { jobId, at: now.toISOString(), ...(reason ? { reason: reason.slice(0, 500) } : {}) },
      { correlationId: jobId, now },
    ),
  };
}

/** Writes many messages in bounded statements (PostgreSQL allows 65,535 bind parameters). */
export async function writeChunked(
  outbox: Outbox,
  trx: Knex.Transaction,
  messages: OutboxMessage[],
): Promise<void> {
  for (let i = 0; i < messages.length; i += 2_000) {
    await outbox.write(trx, messages.slice(i, i + 2_000));
  }
}
