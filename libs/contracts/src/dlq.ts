import { z } from 'zod';
import { defineRpc } from './rpc.ts';
import { page, pageRequest } from './record.ts';
import { TASK_TYPES } from './topology.ts';

/** A dead-lettered job message as the dead-letter store keeps it. */
export const deadLetter = z.object({
  id: z.string(),
  jobId: z.uuid().nullable(),
  platformId: z.uuid().nullable(),
  resource: z.string().nullable(),
  taskType: z.string().nullable(),
  queue: z.string(),
  reason: z.string(),
  attempts: z.number().int().nonnegative(),
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
  'sync-worker',
  'dlq.list',
  dlqFilter.extend(pageRequest),
  page(deadLetter),
);
/** Republishes matching dead jobs as `job.run` (trigger `replay`, attempts from 1). */
export const dlqReplay = defineRpc(
  'sync-worker',
  'dlq.replay',
  z.union([z.strictObject({ jobId: z.uuid() }), dlqFilter]),
  z.object({ replayed: z.array(z.uuid()) }),
);
export const dlqDelete = defineRpc(
  'sync-worker',
  'dlq.delete',
  z.object({ jobId: z.uuid() }),
  z.object({ deleted: z.number().int().nonnegative() }),
);
