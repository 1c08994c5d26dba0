import Router from '@koa/router';
import { monitoringWorkers } from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { createBreakerDirectory } from '../../data-access/breakers.ts';
import type { QueueInspector } from '../../data-access/queue-inspector.ts';
import { pipelineStatus } from '../../domain/pipeline-status.ts';
import { requireRole } from './auth.ts';

/** How far back "the dead-letter queue is growing" looks. */
const DLQ_WINDOW_MS = 5 * 60_000;

export function monitoringRoutes(rpc: RpcClient, inspector: QueueInspector): Router {
  const router = new Router();
  const breakerDirectory = createBreakerDirectory(rpc);
  // Dead-letter depth samples (this gateway's own memory; each replica judges for itself).
  const samples: { at: number; depths: Map<string, number> }[] = [];

  router.get('/monitoring/queues', requireRole('viewer'), async (ctx) => {
    ctx.body = { items: await inspector.list() };
  });
  router.get('/monitoring/workers', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(monitoringWorkers, {});
  });
  router.get('/monitoring/pipeline', requireRole('viewer'), async (ctx) => {
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
