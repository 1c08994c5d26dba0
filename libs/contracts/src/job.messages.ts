import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { TASK_TYPES } from './topology.ts';
import { JOB_TRIGGERS, jobError, jobProgress, jobStats } from './job.ts';

/** Command on `psc.jobs`: run one job. Routing key is the task type. */
export const jobRun = defineMessage(
  'job.run',
  1,
  z.object({
    jobId: z.uuid(),
    platformId: z.uuid(),
    resource: z.string().min(1),
    taskType: z.enum(TASK_TYPES),
    priority: z.number().int().min(1).max(9),
    trigger: z.enum(JOB_TRIGGERS),
    params: z.record(z.string(), z.unknown()).default({}),
  }),
);
export type JobRun = z.infer<typeof jobRun.payload>;

const jobEventBase = {
  jobId: z.uuid(),
  attempt: z.number().int().positive(),
  at: z.iso.datetime(),
};

export const jobStarted = defineMessage(
  'job.started',
  1,
  z.object({ ...jobEventBase, workerId: z.string() }),
);
export const jobSucceeded = defineMessage(
  'job.succeeded',
  1,
  z.object({ ...jobEventBase, stats: jobStats }),
);
export const jobFailed = defineMessage(
  'job.failed',
  1,
  z.object({
    ...jobEventBase,
    error: jobError,
    /**
     * `retrying`: another attempt is scheduled; `dead`: retries exhausted, dead-lettered;
     * `failed`: a permanent failure (also dead-lettered, for replay); `cancelled`: stopped on request.
     */
    outcome: z.enum(['retrying', 'failed', 'dead', 'cancelled']),
  }),
);

/** A running job's pages and records so far; the ledger shows the newest. */
export const jobProgressed = defineMessage(
  'job.progressed',
  1,
  z.object({ ...jobEventBase, progress: jobProgress }),
);

/**
 * The scheduler cancelled a job: a worker skips it if still queued and stops a running one at
 * its next page. Workers answer with `job.failed` (outcome `cancelled`) or nothing if done.
 */
export const jobCancelRequested = defineMessage(
  'job.cancel-requested',
  1,
  z.object({ jobId: z.uuid(), at: z.iso.datetime(), reason: z.string().max(500).optional() }),
);
