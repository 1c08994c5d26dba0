import { z } from 'zod';
import { TASK_TYPES } from './topology.ts';

export const JOB_STATUSES = [
  'queued',
  'running',
  'retrying',
  'succeeded',
  'failed',
  'dead',
  'cancelled',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export const JOB_TRIGGERS = ['schedule', 'manual', 'api', 'replay'] as const;

export const jobStats = z.object({
  fetched: z.number().int().nonnegative(),
  inserted: z.number().int().nonnegative(),
  updated: z.number().int().nonnegative(),
  unchanged: z.number().int().nonnegative(),
});
export type JobStats = z.infer<typeof jobStats>;

export const jobError = z.object({ message: z.string(), class: z.string() });

export const job = z.object({
  id: z.uuid(),
  platformId: z.uuid(),
  resource: z.string(),
  taskType: z.enum(TASK_TYPES),
  status: z.enum(JOB_STATUSES),
  priority: z.number().int().min(1).max(9),
  trigger: z.enum(JOB_TRIGGERS),
  attempts: z.number().int().nonnegative(),
  params: z.record(z.string(), z.unknown()),
  stats: jobStats.nullable(),
  error: jobError.nullable(),
  traceId: z.string().nullable(),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
  updatedAt: z.iso.datetime(),
});
export type Job = z.infer<typeof job>;
