import { z } from 'zod';
import { defineRpc } from './rpc.ts';
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
/**
 * Runs matching dead jobs again (as their next run, attempts from 1), each queued in the same
 * transaction that takes it out of the dead-letter queue.
 */
export const dlqReplay = defineRpc(
  'scheduler',
  'dlq.replay',
  z.union([z.strictObject({ jobId: z.uuid() }), dlqFilter]),
  z.object({ replayed: z.array(z.uuid()) }),
);
/** Removes a dead letter by its id: the job id, or a poison message's own id. */
export const dlqDelete = defineRpc(
  'scheduler',
  'dlq.delete',
  z.object({ jobId: z.uuid() }),
  z.object({ deleted: z.number().int().nonnegative() }),
);
