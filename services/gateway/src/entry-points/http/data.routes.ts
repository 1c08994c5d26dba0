import Router from '@koa/router';
import { z } from 'zod';
import { pageRequest, recordsList } from '@psc/contracts';
import { params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

const dataParams = z.object({ platformId: z.uuid(), resource: z.string().min(1).max(200) });

export function dataRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.get('/data/:platformId/:resource', requireRole('viewer'), async (ctx) => {
    const p = params(ctx, dataParams);
    const q = query(ctx, z.object(pageRequest));
    ctx.body = await rpc.call(recordsList, { ...p, ...q });
  });
  return router;
}
