import Router from '@koa/router';
import { z } from 'zod';
import { dlqDelete, dlqFilter, dlqList, dlqReplay, pageRequest } from '@psc/contracts';
import { body, params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

const byJob = z.object({ jobId: z.uuid() });

/** The sync-worker's dead-letter queue: inspect, replay (one or by filter), delete. */
export function dlqRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.get('/dlq', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(dlqList, query(ctx, dlqFilter.extend(pageRequest)));
  });
  router.post('/dlq/replay', requireRole('operator'), async (ctx) => {
    ctx.body = await rpc.call(dlqReplay, body(ctx, dlqFilter));
  });
  router.post('/dlq/:jobId/replay', requireRole('operator'), async (ctx) => {
    ctx.body = await rpc.call(dlqReplay, params(ctx, byJob));
  });
  router.delete('/dlq/:jobId', requireRole('operator'), async (ctx) => {
    await rpc.call(dlqDelete, params(ctx, byJob));
    ctx.status = 204;
  });
  return router;
}
