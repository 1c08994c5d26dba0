import Router from '@koa/router';
import { z } from 'zod';
import { PIPELINE_STATUSES, monitoringWorkers, queueStats } from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { createBreakerDirectory } from '../../data-access/breakers.ts';
import type { QueueInspector } from '../../data-access/queue-inspector.ts';
import { pipelineStatus } from '../../domain/pipeline-status.ts';
import { operation, route } from './operation.ts';

const QueueStats = queueStats.meta({ id: 'QueueStats' });
const tag = 'monitoring';

export const monitoringOperations = {
  queues: operation({
    method: 'get',
    path: '/monitoring/queues',
    operationId: 'listQueues',
    summary: 'psc’s queues: ready, unacked, consumers, rates and dead-letter depth',
    tag,
    role: 'viewer',
    responses: {
      200: {
        description: 'The queues',
        schema: z.object({ items: z.array(QueueStats) }).meta({ id: 'QueueList' }),
      },
    },
  }),
  workers: operation({
    method: 'get',
    path: '/monitoring/workers',
    operationId: 'listWorkers',
    summary: 'Live sync-worker and collector processes (from their heartbeats)',
    tag,
    role: 'viewer',
    responses: {
      200: {
        description: 'The live workers',
        schema: monitoringWorkers.response.meta({ id: 'WorkerList' }),
      },
    },
  }),
  pipeline: operation({
    method: 'get',
    path: '/monitoring/pipeline',
    operationId: 'getPipelineStatus',
    summary: 'Is the pipeline idle, busy, degraded or stalled, and why',
    tag,
    role: 'viewer',
    responses: {
      200: {
        description: 'The verdict with the queues behind it',
        schema: z
          .object({
            status: z.enum(PIPELINE_STATUSES),
            reasons: z.array(z.string()),
            queues: z.array(QueueStats),
            workers: z.number().int().nonnegative(),
            openBreakers: z.array(z.looseObject({ platformId: z.string(), workerId: z.string() })),
          })
          .meta({ id: 'PipelineStatus' }),
      },
    },
  }),
};

/** How far back "the dead-letter queue is growing" looks. */
const DLQ_WINDOW_MS = 5 * 60_000;

export function monitoringRoutes(rpc: RpcClient<'gateway'>, inspector: QueueInspector): Router {
  const router = new Router();
  const breakerDirectory = createBreakerDirectory(rpc);
  // Dead-letter depth samples (this gateway's own memory; each replica judges for itself).
  const samples: { at: number; depths: Map<string, number> }[] = [];

  route(router, monitoringOperations.queues, async (ctx) => {
    ctx.body = { items: await inspector.list() };
  });
  route(router, monitoringOperations.workers, async (ctx) => {
    ctx.body = await rpc.call(monitoringWorkers, {});
  });
  route(router, monitoringOperations.pipeline, async (ctx) => {
    const unavailable: string[] = [];
    const [queues, workers, breakers] = await Promise.all([
      inspector.list(),
      rpc.call(monitoringWorkers, {}, { timeoutMs: 2_000 }).catch(() => {
        unavailable.push('collector (workers)');
        return { items: [] };
      }),
      // A worker service that is down simply has no breaker open.
      breakerDirectory.list(undefined, 2_000),
    ]);
    const now = Date.now();
    while (samples.length > 0 && now - (samples[0]?.at ?? now) > DLQ_WINDOW_MS) samples.shift();
    const earlier = samples[0]?.depths ?? new Map<string, number>();
    samples.push({
      at: now,
      depths: new Map(
        queues.flatMap((q) => (q.deadLetter === null ? [] : [[q.name, q.deadLetter]])),
      ),
    });
    const openBreakers = [
      ...breakers.items.filter((b) => b.state === 'open'),
      ...workers.items.flatMap((w) =>
        w.openBreakers.map((platformId) => ({ platformId, workerId: w.workerId })),
      ),
    ];
    const result = pipelineStatus({
      queues,
      earlierDeadLetters: earlier,
      openBreakers,
      runningJobs: workers.items.reduce((n, w) => n + w.currentJobs.length, 0),
      unavailable,
    });
    ctx.body = { ...result, queues, workers: workers.items.length, openBreakers };
  });
  return router;
}
