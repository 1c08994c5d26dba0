import Router from '@koa/router';
import { z } from 'zod';
import { params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { createBreakerDirectory } from '../../data-access/breakers.ts';
import { requireRole } from './auth.ts';

/**
 * Platform breakers as each replica of the sync-worker and the collector sees them (`unavailable`
 * names a service that did not answer), and an operator reset that reaches both.
 */
export function breakerRoutes(rpc: RpcClient): Router {
  const router = new Router();
  const breakers = createBreakerDirectory(rpc);
  router.get('/monitoring/breakers', requireRole('viewer'), async (ctx) => {
    const { platformId } = query(ctx, z.object({ platformId: z.uuid().optional() }));
    ctx.body = await breakers.list(platformId);
  });
  router.post('/platforms/:id/breaker/reset', requireRole('operator'), async (ctx) => {
    const { id } = params(ctx, z.object({ id: z.uuid() }));
    ctx.body = await breakers.reset(id);
  });
  return router;
}
