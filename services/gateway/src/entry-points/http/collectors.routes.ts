import Router from '@koa/router';
import { z } from 'zod';
import {
  collectorControl,
  collectorList,
  collectorStatus,
  collectorStatusGet,
} from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { createRunNow } from '../../data-access/run-now.ts';
import { startCollection, startedResponse } from './collections.routes.ts';
import { operation, route } from './operation.ts';

/** A collector is `<platform>/<resource>`: two path segments. */
const nameParams = z
  .object({
    platform: z.string().min(1).max(100).meta({ description: 'Platform name', example: 'racing' }),
    resource: z.string().min(1).max(100).meta({ description: 'Resource name', example: 'races' }),
  })
  .transform((p) => `${p.platform}/${p.resource}`);
const onceBody = z
  .strictObject({
    params: z.record(z.string(), z.unknown()).default({}),
    priority: z.number().int().min(1).max(9).optional(),
  })
  .meta({ id: 'CollectOnceRequest', example: { params: { date: '2024-05-01' } } })
  .default({ params: {} });
const CollectorStatus = collectorStatus.meta({ id: 'CollectorStatus' });
const tag = 'collectors';

const control = (action: 'start' | 'stop') =>
  operation({
    method: 'post',
    path: `/collectors/:platform/:resource/${action}`,
    operationId: `${action}Collector`,
    summary:
      action === 'stop'
        ? 'Stop a collector’s scheduled runs (once and the collections API still run)'
        : 'Start a collector’s scheduled runs again',
    tag,
    role: 'operator',
    params: nameParams,
    responses: { 200: { description: 'The collector', schema: CollectorStatus } },
    errors: [404],
  });

export const collectorOperations = {
  list: operation({
    method: 'get',
    path: '/collectors',
    operationId: 'listCollectors',
    summary: 'Every `<platform>/<resource>` collector',
    tag,
    role: 'viewer',
    responses: {
      200: {
        description: 'The collectors',
        schema: collectorList.response.meta({ id: 'CollectorList' }),
      },
    },
  }),
  status: operation({
    method: 'get',
    path: '/collectors/:platform/:resource/status',
    operationId: 'getCollector',
    summary: 'A collector: params, fan-out, enabled, running and last run',
    tag,
    role: 'viewer',
    params: nameParams,
    responses: { 200: { description: 'The collector', schema: CollectorStatus } },
    errors: [404],
  }),
  start: control('start'),
  stop: control('stop'),
  once: operation({
    method: 'post',
    path: '/collectors/:platform/:resource/once',
    operationId: 'collectOnce',
    summary: 'Run a collector once now with these params',
    tag,
    role: 'operator',
    params: nameParams,
    body: onceBody,
    responses: { 202: startedResponse },
    errors: [404, 409],
  }),
};

export function collectorRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  const runNow = createRunNow(rpc);
  const ops = collectorOperations;
  route(router, ops.list, async (ctx) => {
    ctx.body = await rpc.call(collectorList, {});
  });
  route(router, ops.status, async (ctx, { params: name }) => {
    ctx.body = await rpc.call(collectorStatusGet, { name });
  });
  for (const action of ['start', 'stop'] as const) {
    route(router, ops[action], async (ctx, { params: name }) => {
      ctx.body = await rpc.call(collectorControl, { name, action });
    });
  }
  route(router, ops.once, async (ctx, { params: name, body: run }) => {
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
