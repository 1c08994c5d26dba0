import Router from '@koa/router';
import { z } from 'zod';
import {
  jobCancel,
  jobList,
  jobListRequest,
  queuedJobs,
  runJobsBody,
  taskTypeParam,
} from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import type { JobReader } from '../../data-access/job-reader.ts';
import { createRunNow } from '../../data-access/run-now.ts';
import { JOB_ID, Job, JobPage, PLATFORM_ID } from './api-schemas.ts';
import { operation, relay, route } from './operation.ts';

const idParams = z.object({ id: z.uuid().meta({ description: 'Job id', example: JOB_ID }) });
const cancelBody = z
  .strictObject({ reason: z.string().trim().min(1).max(500).optional() })
  .meta({ id: 'CancelRequest', example: { reason: 'wrong day' } });

const tag = 'jobs';

export const jobOperations = {
  runNow: operation({
    method: 'post',
    path: '/run/:taskType',
    operationId: 'runNow',
    summary: 'Queue jobs now: one platform resource, a platform, or every active platform',
    description:
      'Without `platformId` every active platform’s resources of the task run; without `resource` every resource of the platform that runs it. `valid` is accepted for `validate`.',
    tag,
    role: 'operator',
    params: z.object({
      taskType: taskTypeParam.meta({
        description: '`sync`, `validate` (alias `valid`) or `collect`',
        example: 'sync',
      }),
    }),
    body: runJobsBody
      .meta({
        id: 'RunNowRequest',
        example: { platformId: PLATFORM_ID, resource: 'booths', priority: 9 },
      })
      .optional(),
    responses: {
      202: {
        description: 'The queued jobs',
        schema: queuedJobs.meta({
          id: 'QueuedJobs',
          example: { jobs: [{ id: JOB_ID, status: 'queued' }] },
        }),
      },
    },
    errors: [404, 409],
  }),
  list: operation({
    method: 'get',
    path: '/jobs',
    operationId: 'listJobs',
    summary: 'The job ledger, newest first (filters status, platform, resource, task, since)',
    tag,
    role: 'viewer',
    query: jobListRequest,
    responses: { 200: { description: 'A page of jobs', schema: JobPage } },
  }),
  get: operation({
    method: 'get',
    path: '/jobs/:id',
    operationId: 'getJob',
    summary: 'A job’s status, attempts, stats and error',
    tag,
    role: 'viewer',
    params: idParams,
    responses: { 200: { description: 'The job', schema: Job } },
    errors: [404],
  }),
  cancel: operation({
    method: 'post',
    path: '/jobs/:id/cancel',
    operationId: 'cancelJob',
    summary: 'Cancel a job: a queued one at once, a running one at its next page',
    tag,
    role: 'operator',
    params: idParams,
    body: cancelBody.optional(),
    responses: { 200: { description: 'The job', schema: Job } },
    errors: [404, 409],
  }),
};

export function jobRoutes(rpc: RpcClient<'gateway'>, readJob: JobReader): Router {
  const router = new Router();
  const ops = jobOperations;
  const runNow = createRunNow(rpc);
  route(router, ops.runNow, async (ctx, { params: { taskType }, body }) => {
    const request = body ?? { params: {} };
    ctx.status = 202;
    ctx.body = await runNow({ ...request, taskType });
  });
  route(router, ops.list, (ctx, { query }) => relay(ctx, rpc.relay(jobList, query)));
  route(router, ops.get, async (ctx, { params: { id } }) => {
    ctx.body = await readJob(id);
  });
  route(router, ops.cancel, (ctx, { params: { id }, body }) =>
    relay(ctx, rpc.relay(jobCancel, { id, ...(body?.reason ? { reason: body.reason } : {}) })),
  );
  return router;
}
