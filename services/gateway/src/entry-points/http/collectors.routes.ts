import Router from '@koa/router';
import { z } from 'zod';
import { collectorControl, collectorList, collectorStatusGet } from '@psc/contracts';
import { body, params } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';
import { createRunNow } from '../../data-access/run-now.ts';
import { startCollection } from './collections.routes.ts';

/** A collector is `<platform>/<resource>`: two path segments. */
const nameParams = z
  .object({ platform: z.string().min(1).max(100), resource: z.string().min(1).max(100) })
  .transform((p) => `${p.platform}/${p.resource}`);
const onceBody = z
  .strictObject({
    params: z.record(z.string(), z.unknown()).default({}),
    priority: z.number().int().min(1).max(9).optional(),
  })
  .default({ params: {} });

export function collectorRoutes(rpc: RpcClient): Router {
  const router = new Router();
  const runNow = createRunNow(rpc);
  router.get('/collectors', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(collectorList, {});
  });
  router.get('/collectors/:platform/:resource/status', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(collectorStatusGet, { name: params(ctx, nameParams) });
  });
  for (const action of ['start', 'stop'] as const) {
    router.post(
      `/collectors/:platform/:resource/${action}`,
      requireRole('operator'),
      async (ctx) => {
        ctx.body = await rpc.call(collectorControl, { name: params(ctx, nameParams), action });
      },
    );
  }
  router.post('/collectors/:platform/:resource/once', requireRole('operator'), async (ctx) => {
    const name = params(ctx, nameParams);
    const run = body(ctx, onceBody);
    const status = await rpc.call(collectorStatusGet, { name });
    const started = await startCollection(rpc, runNow, {
      platformId: status.platformId,
      resource: status.resource,
      params: run.params,
      ...(run.priority === undefined ? {} : { priority: run.priority }),
    });
    ctx.status = 202;
    ctx.body = started;
  });
  return router;
}
