import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { TASK_TYPES } from './topology.ts';
import { JOB_TRIGGERS, jobError, jobStats } from './job.ts';

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
    /** `retrying`: another attempt is scheduled; `dead`: dead-lettered; `failed`: gave up. */
    outcome: z.enum(['retrying', 'failed', 'dead']),
  }),
);
