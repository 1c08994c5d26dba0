import Router from '@koa/router';
import { z } from 'zod';
import { pageRequest, validationGet, validationList } from '@psc/contracts';
import { params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

/** Drift reports of validate jobs. */
export function validationRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.get('/validations', requireRole('viewer'), async (ctx) => {
    const q = query(
      ctx,
      z.object({
        platformId: z.uuid().optional(),
        resource: z.string().min(1).max(200).optional(),
        ...pageRequest,
      }),
    );
    ctx.body = await rpc.call(validationList, q);
  });
  router.get('/validations/:jobId', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(validationGet, params(ctx, z.object({ jobId: z.uuid() })));
  });
  return router;
}
