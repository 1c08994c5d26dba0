import Router from '@koa/router';
import { z } from 'zod';
import {
  jobCancel,
  jobGet,
  jobListRequest,
  jobList,
  runJobsBody,
  taskTypeParam,
} from '@psc/contracts';
import { body, params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { createRunNow } from '../../data-access/run-now.ts';
import { requireRole } from './auth.ts';

const idParams = z.object({ id: z.uuid() });
const cancelBody = z.strictObject({ reason: z.string().trim().min(1).max(500).optional() });

export function jobRoutes(rpc: RpcClient): Router {
  const router = new Router();
  const runNow = createRunNow(rpc);
  router.post('/run/:taskType', requireRole('operator'), async (ctx) => {
    const { taskType } = params(ctx, z.object({ taskType: taskTypeParam }));
    const request = body(ctx, runJobsBody.optional()) ?? { params: {} };
    ctx.status = 202;
    ctx.body = await runNow({ ...request, taskType });
  });
  router.get('/jobs', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(jobList, query(ctx, jobListRequest));
  });
  router.get('/jobs/:id', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(jobGet, params(ctx, idParams));
  });
  router.post('/jobs/:id/cancel', requireRole('operator'), async (ctx) => {
    const { id } = params(ctx, idParams);
    const { reason } = body(ctx, cancelBody.optional()) ?? {};
    ctx.body = await rpc.call(jobCancel, { id, ...(reason ? { reason } : {}) });
  });
  return router;
}
