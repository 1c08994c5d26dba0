import Router from '@koa/router';
import { logQuery, logsQuery } from '@psc/contracts';
import { query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

export function logRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.get('/logs', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(logsQuery, query(ctx, logQuery));
  });
  return router;
}
