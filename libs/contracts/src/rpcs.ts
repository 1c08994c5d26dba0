import { z } from 'zod';
import { defineRpc } from './rpc.ts';
import { platform, platformInput, sealedPlatform } from './platform.ts';
import { job, jobParams } from './job.ts';
import { page, pageRequest, syncedRecord } from './record.ts';
import { TASK_TYPES } from './topology.ts';
import { errorBody } from './errors.ts';

const byId = z.object({ id: z.uuid() });

/** The most job ids one `job.get-many` call asks for. */
export const JOB_READ_BATCH = 100;

export const platformCreate = defineRpc(
  'platform-registry',
  'platform.create',
  platformInput,
  platform,
);
/** The scheduler asks for a platform its projection has not heard of yet (run-now.ts). */
export const platformGet = defineRpc('platform-registry', 'platform.get', byId, platform, [
  'gateway',
  'scheduler',
]);
/**
 * For the workers that call the platform: its credential sealed under the key only they share
 * with the registry, so any other broker client that asks learns nothing it could use.
 */
export const platformGetWithSecrets = defineRpc(
  'platform-registry',
  'platform.get-with-secrets',
  byId,
  sealedPlatform,
  ['sync-worker', 'collector'],
);
export const platformList = defineRpc(
  'platform-registry',
  'platform.list',
  z.object({ ...pageRequest, active: z.boolean().optional(), tag: z.string().max(50).optional() }),
  page(platform),
  // The collector lists the platforms it collects from; the scheduler checks its projection.
  ['gateway', 'collector', 'scheduler'],
);

/** Accepts `valid` as seed 000's alias of `validate`. */
export const taskTypeParam = z.preprocess(
  (v) => (v === 'valid' ? 'validate' : v),
  z.enum(TASK_TYPES),
);

/**
 * Run now: without `platformId` every active platform's resources of the task run; without
 * `resource` every resource of the platform that runs the task. Priority defaults to 9.
 */
export const runJobsBody = z.strictObject({
  platformId: z.uuid().optional(),
  resource: z.string().min(1).max(100).optional(),
  priority: z.number().int().min(1).max(9).optional(),
  params: jobParams.default({}),
});

export const runNowRequest = runJobsBody.extend({
  taskType: z.enum(TASK_TYPES),
  /** The trace of the request that asked, recorded on its jobs. */
  traceId: z.string().max(64).nullable().optional(),
  /**
   * The W3C `traceparent` of the request that asked, when it is traced: the scheduler's work for
   * it, and its jobs, hang from that span even when the request went in another's call.
   */
  traceparent: z
    .string()
    .regex(/^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/)
    .optional(),
});
export type RunNowRequest = z.infer<typeof runNowRequest>;

export const queuedJobs = z.object({
  jobs: z.array(z.object({ id: z.uuid(), status: z.literal('queued') })),
});

/**
 * Run-now requests, any number of callers' at once: the gateway sends what arrives while its
 * previous call is in flight as one call, which the scheduler enqueues in one transaction. Each
 * request gets its own answer: its jobs, or its error (404 unknown platform, 409 inactive, …).
 */
export const jobRunNow = defineRpc(
  'scheduler',
  'job.run-now',
  z.object({ requests: z.array(runNowRequest).min(1).max(500) }),
  z.object({
    results: z.array(
      z.discriminatedUnion('ok', [
        queuedJobs.extend({ ok: z.literal(true) }),
        z.object({ ok: z.literal(false), error: errorBody }),
      ]),
    ),
  }),
  // The sync-worker asks for a sync when a validation found drift (auto-heal).
  ['gateway', 'sync-worker'],
);
/**
 * One job by id. The gateway reads through `job.get-many`; this one answers the tests and
 * gateways of the previous release.
 */
export const jobGet = defineRpc('scheduler', 'job.get', byId, job);

/**
 * Jobs by id, many callers' reads at once: the gateway sends the reads that arrive while its
 * previous call is in flight as one call, answered from one query. Each id is asked once; an id
 * with no job is left out of `jobs`, and the gateway answers that read 404.
 */
export const jobGetMany = defineRpc(
  'scheduler',
  'job.get-many',
  z.object({ ids: z.array(z.uuid()).min(1).max(JOB_READ_BATCH) }),
  z.object({ jobs: z.array(job) }),
);

export const recordsList = defineRpc(
  'sync-worker',
  'records.list',
  z.object({
    platformId: z.uuid(),
    resource: z.string().min(1).max(200),
    ...pageRequest,
    parentKey: z.string().max(500).optional(),
    includeDeleted: z.boolean().optional(),
    /** Equality on mapped fields, compared as text (`canUsage=true`, `name=Booth 1`). */
    filters: z.record(z.string().min(1).max(100), z.string().max(500)).optional(),
  }),
  page(syncedRecord),
);
