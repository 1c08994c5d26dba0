import Router from '@koa/router';
import { z } from 'zod';
import {
  controlReason,
  jobGet,
  platformSyncControl,
  platformSyncStatusGet,
  type Job,
  type PlatformSyncStatus,
} from '@psc/contracts';
import { delay } from '@psc/core';
import { body, params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { createBreakerDirectory } from '../../data-access/breakers.ts';
import { createRunNow } from '../../data-access/run-now.ts';
import { requireRole } from './auth.ts';

const idParams = z.object({ id: z.uuid() });
const onceQuery = z.object({ wait: z.coerce.number().int().min(0).max(300).default(0) });
const FINISHED = ['succeeded', 'failed', 'dead', 'cancelled'];

/** Seed 004's per-platform sync control, served by the scheduler. */
export function platformControlRoutes(rpc: RpcClient): Router {
  const router = new Router();
  const breakers = createBreakerDirectory(rpc);
  const runNow = createRunNow(rpc);

  /** Breakers are the workers'; without an answer the status says null rather than fail. */
  async function withBreaker(status: PlatformSyncStatus): Promise<PlatformSyncStatus> {
    const { items } = await breakers.list(status.platformId);
    return { ...status, breaker: items.length > 0 ? items : null };
  }

  router.get('/platforms/:id/sync/status', requireRole('viewer'), async (ctx) => {
    const { id } = params(ctx, idParams);
    ctx.body = await withBreaker(await rpc.call(platformSyncStatusGet, { platformId: id }));
  });
  for (const action of ['start', 'stop'] as const) {
    router.post(`/platforms/:id/sync/${action}`, requireRole('operator'), async (ctx) => {
      const { id } = params(ctx, idParams);
      const { reason } = body(ctx, controlReason.optional()) ?? {};
      ctx.body = await withBreaker(
        await rpc.call(platformSyncControl, {
          platformId: id,
          action,
          ...(reason ? { reason } : {}),
        }),
      );
    });
  }
  router.post('/platforms/:id/sync/once', requireRole('operator'), async (ctx) => {
    const { id } = params(ctx, idParams);
    const { wait } = query(ctx, onceQuery);
    const { jobs } = await runNow({ platformId: id, taskType: 'sync', params: {} });
    const deadline = Date.now() + wait * 1_000;
    let results: Job[] = [];
    do {
      results = await Promise.all(jobs.map((j) => rpc.call(jobGet, { id: j.id })));
      if (results.every((j) => FINISHED.includes(j.status))) break;
      if (Date.now() >= deadline) break;
      await delay(250);
    } while (Date.now() < deadline);
    const done = results.every((j) => FINISHED.includes(j.status));
    ctx.status = done ? 200 : 202;
    ctx.body = { jobs: results, finished: done };
  });
  return router;
}
