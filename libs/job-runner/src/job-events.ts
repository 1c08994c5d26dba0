import {
  EXCHANGES,
  jobFailed,
  jobProgressed,
  jobStarted,
  jobSucceeded,
  jobWaiting,
  type JobError,
  type JobRun,
  type JobStats,
  type MessageDefinition,
  type PayloadOf,
} from '@psc/contracts';
import { AppError } from '@psc/core';
import { createEnvelope, type OutboxMessage } from '@psc/messaging';

/** The run and attempt an event is about, and the correlation id its `job.run` carried. */
export interface RunRef {
  job: Pick<JobRun, 'jobId' | 'run' | 'platformId'>;
  attempt: number;
  correlationId: string;
}

const MAX_ERROR_TEXT = 1_000;

/**
 * Error text as the ledger may keep it: a platform's error text can hold anything, and a NUL
 * (which PostgreSQL's text and jsonb refuse), a lone UTF-16 surrogate (which jsonb refuses; the
 * cut at the length bound can also split a pair) or other control characters would make the
 * job's outcome impossible to store. Each becomes U+FFFD.
 */
export function cleanText(text: string): string {
  let clean = '';
  for (const ch of text.slice(0, MAX_ERROR_TEXT).toWellFormed()) {
    const code = ch.charCodeAt(0);
    const control = code < 0x20 ? ch !== '\n' && ch !== '\t' && ch !== '\r' : code === 0x7f;
    clean += control ? '\ufffd' : ch;
  }
  return clean;
}

/**
 * What a failed attempt reports: the error's code as its class and its message; an unexpected
 * error says only `internal error`, so nothing internal leaks.
 */
export function jobErrorOf(err: unknown): JobError {
  return err instanceof AppError
    ? { message: cleanText(err.message), class: cleanText(err.code) }
    : { message: 'internal error', class: 'internal' };
}

function event<M extends MessageDefinition>(
  definition: M,
  payload: PayloadOf<M>,
  ref: RunRef,
  now: Date,
): OutboxMessage {
  return {
    exchange: EXCHANGES.events,
    routingKey: definition.type,
    envelope: createEnvelope(definition, payload, { correlationId: ref.correlationId, now }),
  };
}

const base = (ref: RunRef, now: Date) => ({
  jobId: ref.job.jobId,
  run: ref.job.run,
  attempt: ref.attempt,
  at: now.toISOString(),
  platformId: ref.job.platformId,
});

/** The job events a worker sends the ledger, as messages for the outbox or the publisher. */
export const jobEvents = {
  started: (ref: RunRef, now: Date, workerId: string) =>
    event(jobStarted, { ...base(ref, now), workerId }, ref, now),
  progressed: (ref: RunRef, now: Date, progress: { pages: number; records: number }) =>
    event(jobProgressed, { ...base(ref, now), progress }, ref, now),
  waiting: (ref: RunRef, now: Date, reason: string, nextAttemptAt: Date) =>
    event(
      jobWaiting,
      { ...base(ref, now), reason: cleanText(reason), nextAttemptAt: nextAttemptAt.toISOString() },
      ref,
      now,
    ),
  succeeded: (
    ref: RunRef,
    now: Date,
    startedAt: Date,
    stats: JobStats,
    progress?: { pages: number; records: number },
  ) =>
    event(
      jobSucceeded,
      {
        ...base(ref, now),
        stats,
        startedAt: startedAt.toISOString(),
        ...(progress && { progress }),
      },
      ref,
      now,
    ),
  failed: (
    ref: RunRef,
    now: Date,
    failure: {
      error: JobError;
      outcome: PayloadOf<typeof jobFailed>['outcome'];
      startedAt?: Date;
      nextAttemptAt?: Date;
    },
  ) =>
    event(
      jobFailed,
      {
        ...base(ref, now),
        error: failure.error,
        outcome: failure.outcome,
        ...(failure.startedAt ? { startedAt: failure.startedAt.toISOString() } : {}),
        ...(failure.nextAttemptAt ? { nextAttemptAt: failure.nextAttemptAt.toISOString() } : {}),
      },
      ref,
      now,
    ),
};
