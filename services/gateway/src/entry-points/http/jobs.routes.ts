import Router from '@koa/router';
import { z } from 'zod';
import { jobGet, jobRunNow, runJobsBody, taskTypeParam } from '@psc/contracts';
import { body, params } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

export function jobRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.post('/run/:taskType', requireRole('operator'), async (ctx) => {
    const { taskType } = params(ctx, z.object({ taskType: taskTypeParam }));
    const request = body(ctx, runJobsBody);
    ctx.status = 202;
    ctx.body = await rpc.call(jobRunNow, { ...request, taskType });
  });
  router.get('/jobs/:id', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(jobGet, params(ctx, z.object({ id: z.uuid() })));
  });
  return router;
}
