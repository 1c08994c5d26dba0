import { z } from 'zod';
import { defineRpc } from './rpc.ts';
import { jobError, jobParams } from './job.ts';
import { page, pageRequest } from './record.ts';
import { TASK_TYPES } from './topology.ts';

/**
 * One entry of the dead-letter queue, kept by the job ledger's owner (the scheduler): a job whose
 * run ended `dead` (retries exhausted) or `failed` (could never succeed), or a message on a job
 * queue that could not be read at all (poison: `jobId` null unless the body named one).
 */
export const deadLetter = z.object({
  /** The job id for a dead job; a fresh id for a poison message. */
  id: z.uuid(),
  jobId: z.uuid().nullable(),
  /** The run that ended here; replay starts run + 1. */
  run: z.number().int().positive().nullable(),
  platformId: z.uuid().nullable(),
  resource: z.string().nullable(),
  taskType: z.string().nullable(),
  /** The job queue it came from. */
  queue: z.string(),
  /** `<error class>: <message>`, or why a poison message was refused. */
  reason: z.string(),
  attempts: z.number().int().nonnegative(),
  /** Only a job can be replayed; a poison message can only be inspected and deleted. */
  replayable: z.boolean(),
  deadAt: z.iso.datetime(),
});
export type DeadLetter = z.infer<typeof deadLetter>;

/** What psc shows in place of a secret's value (by its name, or its form in a text). */
export const REDACTED = '[redacted]';

/**
 * The message that died, as the owner keeps it, with every secret replaced by `[redacted]`:
 * values under secret-looking names (token, password, api key, authorization, cookie…), bearer
 * and basic credentials, passwords in URLs and secret query parameters.
 */
export const deadMessage = z.object({
  /** The message type (AMQP `type`), e.g. `job.run`; null when the sender set none. */
  type: z.string().nullable(),
  messageId: z.string().nullable(),
  /**
   * AMQP headers. For a dead job: the dead-letter headers (`x-psc-dead-reason`, `-queue`, `-at`,
   * `x-psc-attempt`); for a poison message: those it was parked with, `x-death` included.
   */
  headers: z.record(z.string(), z.unknown()),
  /**
   * The body: for a dead job, the `job.run` envelope of the run that died, rebuilt from the job
   * ledger's row; for a poison message, its JSON, or its text when it is not JSON.
   */
  payload: z.unknown(),
  /** The owner keeps only the first 2,000 characters of a poison message: `payload` is cut. */
  truncated: z.boolean(),
});
export type DeadMessage = z.infer<typeof deadMessage>;

/** One dead letter with its job's last error and the message that died. */
export const deadLetterDetail = deadLetter.extend({
  /** The dead job's last error; null for a poison message. */
  error: jobError.nullable(),
  /** Null when nothing is kept of it (a dead job whose ledger row has been purged). */
  message: deadMessage.nullable(),
});
export type DeadLetterDetail = z.infer<typeof deadLetterDetail>;

export const dlqFilter = z.strictObject({
  platformId: z.uuid().optional(),
  resource: z.string().min(1).max(200).optional(),
  taskType: z.enum(TASK_TYPES).optional(),
  /** Substring of the reason, e.g. `upstream_status`. */
  reason: z.string().min(1).max(200).optional(),
});
export type DlqFilter = z.infer<typeof dlqFilter>;

export const dlqList = defineRpc(
  'scheduler',
  'dlq.list',
  dlqFilter.extend(pageRequest),
  page(deadLetter),
);
/** One dead letter by its job id (or a poison message's own id); 404 when it is not there. */
export const dlqGet = defineRpc(
  'scheduler',
  'dlq.get',
  z.object({ jobId: z.uuid() }),
  deadLetterDetail,
);
/**
 * Dead jobs one replay by filter takes, oldest first, in one transaction: short enough to commit
 * within a call's timeout. `more` says that the filter matches more; the next call takes them.
 */
export const DLQ_REPLAY_MAX = 10_000;

/**
 * Runs matching dead jobs again (as their next run, attempts from 1), each queued in the same
 * transaction that takes it out of the dead-letter queue: one job, or up to
 * {@link DLQ_REPLAY_MAX} of a filter. One job may be given `params` to run with in place of its
 * own (a wrong date, say).
 */
export const dlqReplay = defineRpc(
  'scheduler',
  'dlq.replay',
  z.union([z.strictObject({ jobId: z.uuid(), params: jobParams.optional() }), dlqFilter]),
  z.object({
    replayed: z.array(z.uuid()),
    /** The filter matches more dead jobs than one call replays: call again for the next ones. */
    more: z.boolean(),
  }),
);
/** Removes a dead letter by its id: the job id, or a poison message's own id. */
export const dlqDelete = defineRpc(
  'scheduler',
  'dlq.delete',
  z.object({ jobId: z.uuid() }),
  z.object({ deleted: z.number().int().nonnegative() }),
);
