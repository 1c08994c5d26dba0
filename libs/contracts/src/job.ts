import { z } from 'zod';
import { TASK_TYPES } from './topology.ts';

export const JOB_STATUSES = [
  'queued',
  'running',
  /** An attempt failed; the next one starts at `nextAttemptAt`. */
  'retrying',
  /** Held back without using an attempt (the platform's breaker is open) until `nextAttemptAt`. */
  'waiting',
  'succeeded',
  'failed',
  'dead',
  'cancelled',
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];
/**
 * A run in one of these is over: nothing moves it on but a replay (of `failed` or `dead`), which
 * starts the job's next run.
 */
export const FINAL_JOB_STATUSES = [
  'succeeded',
  'failed',
  'dead',
  'cancelled',
] as const satisfies readonly JobStatus[];
export type FinalJobStatus = (typeof FINAL_JOB_STATUSES)[number];
/** A run in one of these is not over yet: queued, running, or between attempts. */
export const LIVE_JOB_STATUSES = [
  'queued',
  'running',
  'retrying',
  'waiting',
] as const satisfies readonly JobStatus[];
export type LiveJobStatus = (typeof LIVE_JOB_STATUSES)[number];
export const isFinalJobStatus = (status: JobStatus): status is FinalJobStatus =>
  (FINAL_JOB_STATUSES as readonly JobStatus[]).includes(status);

export const JOB_TRIGGERS = ['schedule', 'manual', 'api', 'replay', 'backfill'] as const;

/** The most a job's params may take as JSON: they travel in every message of the job. */
export const MAX_PARAMS_BYTES = 64 * 1024;

/**
 * A job's params as a caller sends them: bounded, so the job's messages always fit the broker
 * (a bigger one is refused with this limit named, not left to fail later).
 */
export const jobParams = z
  .record(z.string(), z.unknown())
  .refine(
    (p) => Buffer.byteLength(JSON.stringify(p)) <= MAX_PARAMS_BYTES,
    `params take more than ${MAX_PARAMS_BYTES} bytes as JSON`,
  );

const count = z.number().int().nonnegative();

/** Counts of one record collection; `deleted` counts soft deletes of a full sync. */
export const recordCounts = z.object({
  fetched: count,
  inserted: count,
  updated: count,
  unchanged: count,
  deleted: count.optional(),
});

export const jobStats = recordCounts.extend({
  /** Child collections (`<resource>.<child>`), counted like the resource's own records. */
  children: z.record(z.string(), recordCounts).optional(),
});
export type JobStats = z.infer<typeof jobStats>;

export const jobError = z.object({ message: z.string(), class: z.string() });
export type JobError = z.infer<typeof jobError>;

/** How far a running job has got. */
export const jobProgress = z.object({ pages: count, records: count });

export const job = z.object({
  id: z.uuid(),
  platformId: z.uuid(),
  resource: z.string(),
  taskType: z.enum(TASK_TYPES),
  status: z.enum(JOB_STATUSES),
  priority: z.number().int().min(1).max(9),
  trigger: z.enum(JOB_TRIGGERS),
  attempts: z.number().int().nonnegative(),
  /** 1 for the first run; each replay from the dead-letter queue runs the job again as run n+1. */
  run: z.number().int().positive(),
  params: z.record(z.string(), z.unknown()),
  stats: jobStats.nullable(),
  /**
   * Pages and records stored so far, for runs of more than one page (null for one page); once
   * such a run has succeeded, where it ended.
   */
  progress: jobProgress.nullable().optional(),
  error: jobError.nullable(),
  /** While `retrying` or `waiting`: when the next attempt is due. */
  nextAttemptAt: z.iso.datetime().nullable(),
  traceId: z.string().nullable(),
  /** The fire time of a scheduled run (its dedupe key with platform, resource and task). */
  scheduledFor: z.iso.datetime().nullable().optional(),
  /** The backfill this run is a step of. */
  backfillId: z.uuid().nullable().optional(),
  /** For scheduled runs: the scheduler replica and lease fencing token that enqueued it. */
  emittedBy: z
    .object({ replicaId: z.string(), fencingToken: z.number().int() })
    .nullable()
    .optional(),
  createdAt: z.iso.datetime(),
  startedAt: z.iso.datetime().nullable(),
  finishedAt: z.iso.datetime().nullable(),
  updatedAt: z.iso.datetime(),
});
export type Job = z.infer<typeof job>;
