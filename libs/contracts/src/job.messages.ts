import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { TASK_TYPES } from './topology.ts';
import { JOB_TRIGGERS, jobError, jobProgress, jobStats } from './job.ts';

/**
 * Which run of a job a message belongs to: 1 for the first; the ledger starts run n+1 when it
 * replays the job from the dead-letter queue. Messages of an earlier run are ignored. Absent in
 * messages of psc's first release, which knew one run per job.
 */
const run = z.number().int().positive().default(1);

/**
 * Command on `psc.work`: run one job. Routing key is the task type. Only the ledger owner (the
 * scheduler) sends it, in the transaction that writes the job's row.
 */
export const jobRun = defineMessage(
  'job.run',
  1,
  z.object({
    jobId: z.uuid(),
    run,
    platformId: z.uuid(),
    resource: z.string().min(1),
    taskType: z.enum(TASK_TYPES),
    priority: z.number().int().min(1).max(9),
    trigger: z.enum(JOB_TRIGGERS),
    params: z.record(z.string(), z.unknown()).default({}),
    /**
     * The job's W3C trace id (32 hex digits), set by the ledger even when no trace is exported,
     * so the worker's log lines of the job carry it. Absent in messages of earlier releases.
     */
    traceId: z
      .string()
      .regex(/^[0-9a-f]{32}$/)
      .optional(),
  }),
);
export type JobRun = z.infer<typeof jobRun.payload>;

const jobEventBase = {
  jobId: z.uuid(),
  run,
  attempt: z.number().int().positive(),
  at: z.iso.datetime(),
  /** For logs and metrics; the ledger has its own copy. */
  platformId: z.uuid().optional(),
};

/**
 * A worker took the job. Sent only when the attempt is still running after a short while
 * (`PSC_STARTED_NOTICE_MS`): a job that finishes sooner reports its start in its outcome.
 */
export const jobStarted = defineMessage(
  'job.started',
  1,
  z.object({ ...jobEventBase, workerId: z.string() }),
);
export const jobSucceeded = defineMessage(
  'job.succeeded',
  1,
  z.object({
    ...jobEventBase,
    stats: jobStats,
    startedAt: z.iso.datetime().optional(),
    /**
     * Where a run that reported progress (a sync of several pages) ended: progress events stop
     * before the last page, so without it the ledger would keep the last report, short of the
     * end. Absent for runs that reported none, and in messages of earlier releases.
     */
    progress: jobProgress.optional(),
  }),
);
export const JOB_FAILURE_OUTCOMES = ['retrying', 'failed', 'dead', 'cancelled'] as const;
export const jobFailed = defineMessage(
  'job.failed',
  1,
  z.object({
    ...jobEventBase,
    error: jobError,
    /**
     * `retrying`: another attempt starts at `nextAttemptAt`; `dead`: retries exhausted;
     * `failed`: a permanent failure; `cancelled`: stopped on request. `dead` and `failed` put the
     * job into the dead-letter queue, from which it can be replayed.
     */
    outcome: z.enum(JOB_FAILURE_OUTCOMES),
    nextAttemptAt: z.iso.datetime().optional(),
    startedAt: z.iso.datetime().optional(),
  }),
);

/** The attempt was held back without using it (the platform's breaker is open). */
export const jobWaiting = defineMessage(
  'job.waiting',
  1,
  z.object({ ...jobEventBase, reason: z.string().max(1_000), nextAttemptAt: z.iso.datetime() }),
);

/** A running job's pages and records so far; the ledger shows the newest. */
export const jobProgressed = defineMessage(
  'job.progressed',
  1,
  z.object({ ...jobEventBase, progress: jobProgress }),
);

/** Every event a worker reports about a job, in the order the ledger consumer accepts them. */
export const JOB_EVENTS = [jobStarted, jobProgressed, jobWaiting, jobSucceeded, jobFailed] as const;

/**
 * The scheduler cancelled a job: a worker skips it if still queued and stops a running one at
 * its next page or at the latest when it commits. Workers answer with `job.failed` (outcome
 * `cancelled`) or nothing if done.
 */
export const jobCancelRequested = defineMessage(
  'job.cancel-requested',
  1,
  z.object({
    jobId: z.uuid(),
    run,
    at: z.iso.datetime(),
    reason: z.string().max(500).optional(),
  }),
);
