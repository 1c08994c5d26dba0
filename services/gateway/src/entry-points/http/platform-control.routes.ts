import Router from '@koa/router';
import { z } from 'zod';
import {
  breakerView,
  controlReason,
  isFinalJobStatus,
  job,
  platformSyncControl,
  platformSyncStatus,
  platformSyncStatusGet,
  type Job,
  type PlatformSyncStatus,
} from '@psc/contracts';
import { delay } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import { createBreakerDirectory } from '../../data-access/breakers.ts';
import type { JobReader } from '../../data-access/job-reader.ts';
import { createRunNow } from '../../data-access/run-now.ts';
import { PLATFORM_ID } from './api-schemas.ts';
import { operation, route } from './operation.ts';

const idParams = z.object({
  id: z.uuid().meta({ description: 'Platform id', example: PLATFORM_ID }),
});
const onceQuery = z.object({
  wait: z.coerce
    .number()
    .int()
    .min(0)
    .max(300)
    .default(0)
    .meta({ description: 'Seconds to wait for the jobs to finish (0–300)' }),
});
const SyncStatus = platformSyncStatus
  // The gateway adds the sync-worker's breakers to the scheduler's status.
  .extend({ breaker: z.array(breakerView).nullable() })
  .meta({ id: 'PlatformSyncStatus' });
const OnceResult = z
  .object({ jobs: z.array(job), finished: z.boolean() })
  .meta({ id: 'SyncOnceResult' });

const tag = 'platform sync';
const control = (action: 'start' | 'stop') =>
  operation({
    method: 'post',
    path: `/platforms/:id/sync/${action}`,
    operationId: `${action}PlatformSync`,
    summary:
      action === 'stop'
        ? 'Stop a platform’s scheduled runs and cancel its queued jobs'
        : 'Start a platform’s scheduled runs again (also lifts an automatic pause)',
    tag,
    role: 'operator',
    params: idParams,
    body: controlReason.meta({ example: { reason: 'maintenance window' } }).optional(),
    responses: { 200: { description: 'The platform’s sync status', schema: SyncStatus } },
    errors: [404],
  });

export const platformControlOperations = {
  status: operation({
    method: 'get',
    path: '/platforms/:id/sync/status',
    operationId: 'getPlatformSyncStatus',
    summary: 'Whether a platform syncs on its own, its schedule, last job and breaker',
    tag,
    role: 'viewer',
    params: idParams,
    responses: { 200: { description: 'The platform’s sync status', schema: SyncStatus } },
    errors: [404],
  }),
  start: control('start'),
  stop: control('stop'),
  once: operation({
    method: 'post',
    path: '/platforms/:id/sync/once',
    operationId: 'syncPlatformOnce',
    summary: 'Sync every resource of a platform now, waiting up to `wait` seconds for the result',
    tag,
    role: 'operator',
    params: idParams,
    query: onceQuery,
    responses: {
      200: { description: 'Every job finished', schema: OnceResult },
      202: { description: 'Not all jobs finished within `wait`', schema: OnceResult },
    },
    errors: [404, 409],
  }),
};

/** Seed 004's per-platform sync control, served by the scheduler. */
export function platformControlRoutes(rpc: RpcClient<'gateway'>, readJob: JobReader): Router {
  const router = new Router();
  const breakers = createBreakerDirectory(rpc);
  const runNow = createRunNow(rpc);
  const ops = platformControlOperations;

  /** Breakers are the workers'; without an answer the status says null rather than fail. */
  async function withBreaker(status: PlatformSyncStatus): Promise<PlatformSyncStatus> {
    const { items } = await breakers.list(status.platformId);
    return { ...status, breaker: items.length > 0 ? items : null };
  }

  route(router, ops.status, async (ctx, { params: { id } }) => {
    ctx.body = await withBreaker(await rpc.call(platformSyncStatusGet, { platformId: id }));
  });
  for (const action of ['start', 'stop'] as const) {
    route(router, ops[action], async (ctx, { params: { id }, body }) => {
      ctx.body = await withBreaker(
        await rpc.call(platformSyncControl, {
          platformId: id,
          action,
          ...(body?.reason ? { reason: body.reason } : {}),
        }),
      );
    });
  }
  route(router, ops.once, async (ctx, { params: { id }, query: { wait } }) => {
    const { jobs } = await runNow({ platformId: id, taskType: 'sync', params: {} });
    const deadline = Date.now() + wait * 1_000;
    let results: Job[] = [];
    do {
      results = await Promise.all(jobs.map((j) => readJob(j.id)));
      if (results.every((j) => isFinalJobStatus(j.status))) break;
      if (Date.now() >= deadline) break;
      await delay(250);
    } while (Date.now() < deadline);
    const done = results.every((j) => isFinalJobStatus(j.status));
    ctx.status = done ? 200 : 202;
    ctx.body = { jobs: results, finished: done };
  });
  return router;
}
