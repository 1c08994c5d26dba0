import Router from '@koa/router';
import { z } from 'zod';
import { OUTBOX_OWNERS, outboxParked } from '@psc/contracts';
import { query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

/**
 * Messages each service's outbox relay gave up on (refused by the broker, or failed its tries),
 * parked with the reason instead of blocking the messages behind them. A service that does not
 * answer is named in `unavailable`.
 */
export function outboxRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.get('/monitoring/outbox', requireRole('viewer'), async (ctx) => {
    const { limit } = query(
      ctx,
      z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
    );
    const answers = await Promise.allSettled(
      OUTBOX_OWNERS.map((service) =>
        rpc.call(outboxParked[service], { limit }, { timeoutMs: 2_000 }),
      ),
    );
    ctx.body = {
      items: answers.flatMap((a, i) =>
        a.status === 'fulfilled'
          ? a.value.items.map((m) => ({ service: OUTBOX_OWNERS[i]!, ...m }))
          : [],
      ),
      unavailable: OUTBOX_OWNERS.filter((_, i) => answers[i]?.status === 'rejected'),
    };
  });
  return router;
}
