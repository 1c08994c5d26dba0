import Router from '@koa/router';
import { z } from 'zod';
import {
  TASK_TYPES,
  controlReason,
  schedulerConfigGet,
  schedulerConfigList,
  schedulerConfigPause,
  schedulerConfigPut,
  schedulerConfigPutMany,
  schedulerControl,
  schedulerStatusGet,
  taskConfigInput,
  taskConfigsInput,
} from '@psc/contracts';
import { body, params } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

const taskTypeParams = z.object({
  taskType: z.preprocess((v) => (v === 'valid' ? 'validate' : v), z.enum(TASK_TYPES)),
});

/**
 * Seed 000's scheduler API. pause: stop emitting, keep state; stop: also cancel queued jobs;
 * resume/start: emit again, runs missed meanwhile follow each schedule's `misfire` policy.
 */
export function schedulerRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.get('/scheduler', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(schedulerStatusGet, {});
  });
  for (const action of ['pause', 'resume', 'stop', 'start'] as const) {
    router.post(`/scheduler/${action}`, requireRole('operator'), async (ctx) => {
      const { reason } = body(ctx, controlReason.optional()) ?? {};
      ctx.body = await rpc.call(schedulerControl, { action, ...(reason ? { reason } : {}) });
    });
  }
  router.get('/scheduler/config', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(schedulerConfigList, {});
  });
  router.post('/scheduler/config', requireRole('operator'), async (ctx) => {
    ctx.body = await rpc.call(schedulerConfigPutMany, body(ctx, taskConfigsInput));
  });
  router.get('/scheduler/config/:taskType', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(schedulerConfigGet, params(ctx, taskTypeParams));
  });
  router.put('/scheduler/config/:taskType', requireRole('operator'), async (ctx) => {
    const { taskType } = params(ctx, taskTypeParams);
    ctx.body = await rpc.call(schedulerConfigPut, { taskType, config: body(ctx, taskConfigInput) });
  });
  for (const action of ['pause', 'resume'] as const) {
    router.post(`/scheduler/config/:taskType/${action}`, requireRole('operator'), async (ctx) => {
      const { taskType } = params(ctx, taskTypeParams);
      const { reason } = body(ctx, controlReason.optional()) ?? {};
      ctx.body = await rpc.call(schedulerConfigPause, {
        taskType,
        action,
        ...(reason ? { reason } : {}),
      });
    });
  }
  return router;
}
