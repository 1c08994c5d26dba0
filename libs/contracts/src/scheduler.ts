import { z } from 'zod';
import { TASK_TYPES } from './topology.ts';
import { FINAL_JOB_STATUSES, JOB_STATUSES, LIVE_JOB_STATUSES, job } from './job.ts';
import { scheduleSpec } from './schedule.ts';
import { pageRequest } from './record.ts';

/**
 * `running` emits due runs; `paused` emits nothing and keeps every schedule's state (missed runs
 * follow the `misfire` policy on resume); `stopped` is paused and also cancels queued jobs.
 */
export const SCHEDULER_STATES = ['running', 'paused', 'stopped'] as const;
export type SchedulerState = (typeof SCHEDULER_STATES)[number];

const iso = z.iso.datetime();

/** A task type's schedule as the scheduler keeps it, with its next fire times. */
export const taskConfig = z.object({
  taskType: z.enum(TASK_TYPES),
  enabled: z.boolean(),
  intervalSeconds: z.number().int().nullable(),
  cron: z.string().nullable(),
  timezone: z.string(),
  /** null: each platform's own priority. */
  priority: z.number().int().min(1).max(9).nullable(),
  jitterSeconds: z.number().int(),
  overlap: z.enum(['skip', 'enqueue']),
  misfire: z.enum(['run_once', 'skip']),
  autoPauseAfterFailures: z.number().int().nullable(),
  /** The params template of each run (null: none). */
  params: z.record(z.string(), z.unknown()).nullable(),
  /** Set while an operator paused this task type (its schedules emit nothing meanwhile). */
  pausedReason: z.string().nullable(),
  lastRunAt: iso.nullable(),
  nextRunAt: iso.nullable(),
  nextFireTimes: z.array(iso),
  updatedAt: iso,
});
export type TaskConfig = z.infer<typeof taskConfig>;

/** PUT body: the whole config of one task type (omitted fields take their defaults). */
export const taskConfigInput = scheduleSpec;

/** POST body: configs of several task types at once. */
export const taskConfigsInput = z
  .strictObject({
    sync: scheduleSpec.optional(),
    validate: scheduleSpec.optional(),
    collect: scheduleSpec.optional(),
  })
  .refine((v) => Object.keys(v).length > 0, 'name at least one task type');

export const controlReason = z.strictObject({
  reason: z.string().trim().min(1).max(500).optional(),
});

/** One non-negative count per status of `statuses`, every one present (0 when none). */
function countsOf<const S extends string>(statuses: readonly S[]) {
  const count = z.number().int().nonnegative();
  return z.object(
    Object.fromEntries(statuses.map((s) => [s, count])) as { [K in S]: typeof count },
  );
}

export const schedulerStatus = z.object({
  state: z.enum(SCHEDULER_STATES),
  reason: z.string().nullable(),
  changedAt: iso,
  leader: z
    .object({ id: z.string(), fencingToken: z.number().int(), leaseExpiresAt: iso })
    .nullable(),
  lastTickAt: iso.nullable(),
  counts: z.object({
    platforms: z.number().int(),
    activePlatforms: z.number().int(),
    schedules: z.number().int(),
    pausedSchedules: z.number().int(),
    /** Jobs whose run is not over, by status: exact, at the cost of an index range per status. */
    jobs: countsOf(LIVE_JOB_STATUSES),
    /**
     * Jobs that ended in the last hour, by status. Counting every finished job would scan
     * the whole retained ledger (30 days by default) on each call, and the console asks every 2 s.
     */
    finishedLastHour: countsOf(FINAL_JOB_STATUSES),
    /** Letters in the dead-letter queue, counted up to 10,000 (`atLeast`: there are more). */
    deadLetters: z.object({ count: z.number().int().nonnegative(), atLeast: z.boolean() }),
  }),
});
export type SchedulerStatus = z.infer<typeof schedulerStatus>;

export const jobListRequest = z.object({
  status: z.enum(JOB_STATUSES).optional(),
  platformId: z.uuid().optional(),
  resource: z.string().min(1).max(100).optional(),
  taskType: z.preprocess((v) => (v === 'valid' ? 'validate' : v), z.enum(TASK_TYPES)).optional(),
  /** Created at or after; with any offset (`Z`, `+09:00`). */
  since: z.iso.datetime({ offset: true }).optional(),
  backfillId: z.uuid().optional(),
  ...pageRequest,
});
export type JobListRequest = z.infer<typeof jobListRequest>;

/** Seed 004's per-platform status. `breaker` is the sync-worker's view, null when unknown. */
export const platformSyncStatus = z.object({
  platformId: z.uuid(),
  isRunning: z.boolean(),
  /** Seconds between scheduled syncs; null for cron or no schedule. */
  syncInterval: z.number().int().nullable(),
  cron: z.string().nullable(),
  apiUrl: z.string().nullable(),
  lastUpdate: iso.nullable(),
  lastJob: job.nullable(),
  breaker: z.unknown().nullable(),
  nextFireTimes: z.array(iso),
  /** Why it is not running: scheduler pause/stop, platform stop or an automatic pause. */
  pausedReason: z.string().nullable().optional(),
  /**
   * Seed 004's "is anything alive to run it": consumers the broker counts on the sync task's
   * queue now (sync-worker processes); 0 means queued syncs wait, null that the broker did not say.
   */
  workersAlive: z.number().int().nonnegative().nullable(),
});
export type PlatformSyncStatus = z.infer<typeof platformSyncStatus>;
