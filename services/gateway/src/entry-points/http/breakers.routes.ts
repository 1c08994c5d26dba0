import Router from '@koa/router';
import { z } from 'zod';
import { breakerList, breakerReset } from '@psc/contracts';
import { params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

/** Platform breakers as each sync-worker replica sees them, and an operator reset. */
export function breakerRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.get('/monitoring/breakers', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(
      breakerList,
      query(ctx, z.object({ platformId: z.uuid().optional() })),
    );
  });
  router.post('/platforms/:id/breaker/reset', requireRole('operator'), async (ctx) => {
    const { id } = params(ctx, z.object({ id: z.uuid() }));
    ctx.body = await rpc.call(breakerReset, { platformId: id });
  });
  return router;
}
