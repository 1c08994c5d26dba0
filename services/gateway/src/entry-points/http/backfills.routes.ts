import Router from '@koa/router';
import { z } from 'zod';
import {
  backfill,
  backfillCancel,
  backfillCreate,
  backfillGet,
  backfillList,
  backfillRequest,
  controlReason,
  page,
  pageRequest,
} from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { PLATFORM_ID } from './api-schemas.ts';
import { operation, relay, route } from './operation.ts';

const Backfill = backfill.meta({ id: 'Backfill' });
const byId = z.object({ id: z.uuid().meta({ description: 'Backfill id' }) });
const tag = 'backfills';

export const backfillOperations = {
  create: operation({
    method: 'post',
    path: '/backfills',
    operationId: 'createBackfill',
    summary: 'Run a task over a past range, one job per step, a few at a time',
    description:
      'One job per step (`day` by default) from `from` to `to`, both included, in `timezone`; `paramsTemplate` placeholders such as `{{date:yyyyMMdd}}` are filled per step. At most `maxConcurrent` runs are open at once. A step that already has a run at that instant (an earlier backfill of the range, or a schedule) takes that run over: one that succeeded or is still open is not run again; one that failed, died or was cancelled runs again as its next run, with this backfill’s params, out of the dead-letter queue. The runs are in the job ledger with trigger `backfill` (`GET /jobs?backfillId=`).',
    tag,
    role: 'operator',
    body: backfillRequest.meta({
      id: 'BackfillRequest',
      example: {
        platformId: PLATFORM_ID,
        resource: 'races',
        taskType: 'collect',
        from: '2024-05-01',
        to: '2024-05-07',
        step: 'day',
        timezone: 'Asia/Seoul',
        paramsTemplate: { date: '{{date:yyyyMMdd}}' },
        maxConcurrent: 2,
      },
    }),
    responses: { 202: { description: 'The backfill, started', schema: Backfill } },
    errors: [404, 409],
  }),
  list: operation({
    method: 'get',
    path: '/backfills',
    operationId: 'listBackfills',
    summary: 'Backfills, newest first, with their progress',
    tag,
    role: 'viewer',
    query: z.object({ platformId: z.uuid().optional(), ...pageRequest }),
    responses: {
      200: {
        description: 'A page of backfills',
        schema: page(Backfill).meta({ id: 'BackfillPage' }),
      },
    },
  }),
  get: operation({
    method: 'get',
    path: '/backfills/:id',
    operationId: 'getBackfill',
    summary: 'A backfill’s status and progress per step state',
    tag,
    role: 'viewer',
    params: byId,
    responses: { 200: { description: 'The backfill', schema: Backfill } },
    errors: [404],
  }),
  cancel: operation({
    method: 'post',
    path: '/backfills/:id/cancel',
    operationId: 'cancelBackfill',
    summary: 'Cancel a backfill: no further step starts, queued runs end, running ones stop',
    tag,
    role: 'operator',
    params: byId,
    body: controlReason.optional(),
    responses: { 200: { description: 'The backfill', schema: Backfill } },
    errors: [404, 409],
  }),
};

/** Backfills, owned by the scheduler. */
export function backfillRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  const ops = backfillOperations;
  route(router, ops.create, async (ctx, { body }) => {
    const created = await rpc.call(backfillCreate, body);
    ctx.status = 202;
    ctx.set('Location', `/api/v1/backfills/${created.id}`);
    ctx.body = created;
  });
  route(router, ops.list, (ctx, { query }) => relay(ctx, rpc.relay(backfillList, query)));
  route(router, ops.get, (ctx, { params }) => relay(ctx, rpc.relay(backfillGet, params)));
  route(router, ops.cancel, (ctx, { params: { id }, body }) =>
    relay(ctx, rpc.relay(backfillCancel, { id, ...(body?.reason ? { reason: body.reason } : {}) })),
  );
  return router;
}
