import Router from '@koa/router';
import { z } from 'zod';
import {
  pageRequest,
  platformCreate,
  platformGet,
  platformInput,
  platformList,
} from '@psc/contracts';
import { body, params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

const listQuery = z.object({
  ...pageRequest,
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
});
const idParams = z.object({ id: z.uuid() });

export function platformRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.post('/platforms', requireRole('admin'), async (ctx) => {
    const input = body(ctx, platformInput);
    ctx.status = 201;
    ctx.body = await rpc.call(platformCreate, input);
  });
  router.get('/platforms', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(platformList, query(ctx, listQuery));
  });
  router.get('/platforms/active', requireRole('viewer'), async (ctx) => {
    const q = query(ctx, listQuery);
    ctx.body = await rpc.call(platformList, { ...q, active: true });
  });
  router.get('/platforms/:id', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(platformGet, params(ctx, idParams));
  });
  return router;
}
