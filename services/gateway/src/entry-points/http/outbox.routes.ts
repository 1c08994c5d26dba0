import Router from '@koa/router';
import { z } from 'zod';
import { OUTBOX_OWNERS, outboxParked, parkedMessage } from '@psc/contracts';
import type { Outbox, RpcClient } from '@psc/messaging';
import { operation, route } from './operation.ts';

/** The gateway's own outbox (key revocations) and every service's that serves `outbox.parked`. */
const SERVICES = ['gateway', ...OUTBOX_OWNERS] as const;

export const outboxOperations = {
  parked: operation({
    method: 'get',
    path: '/monitoring/outbox',
    operationId: 'listParkedOutboxMessages',
    summary: 'Messages each service’s outbox gave up on, parked with the reason',
    description:
      'A message the broker refused (or that failed its tries) is parked instead of blocking the messages behind it. `unavailable` names a service that did not answer.',
    tag: 'monitoring',
    role: 'viewer',
    query: z.object({ limit: z.coerce.number().int().min(1).max(500).default(50) }),
    responses: {
      200: {
        description: 'The parked messages of every service',
        schema: z
          .object({
            items: z.array(parkedMessage.extend({ service: z.enum(SERVICES) })),
            unavailable: z.array(z.enum(SERVICES)),
          })
          .meta({ id: 'ParkedOutboxMessages' }),
      },
    },
  }),
};

/** Parked outbox messages of every service that has an outbox, the gateway's own included. */
export function outboxRoutes(rpc: RpcClient<'gateway'>, own: Pick<Outbox, 'parked'>): Router {
  const router = new Router();
  route(router, outboxOperations.parked, async (ctx, { query: { limit } }) => {
    const answers = await Promise.allSettled([
      own.parked(limit).then((items) => ({ items })),
      ...OUTBOX_OWNERS.map((service) =>
        rpc.call(outboxParked[service], { limit }, { timeoutMs: 2_000 }),
      ),
    ]);
    ctx.body = {
      items: answers.flatMap((a, i) =>
        a.status === 'fulfilled' ? a.value.items.map((m) => ({ service: SERVICES[i]!, ...m })) : [],
      ),
      unavailable: SERVICES.filter((_, i) => answers[i]?.status === 'rejected'),
    };
  });
  return router;
}
