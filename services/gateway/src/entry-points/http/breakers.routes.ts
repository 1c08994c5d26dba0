import Router from '@koa/router';
import { z } from 'zod';
import { breakerView, platformGet } from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { createBreakerDirectory } from '../../data-access/breakers.ts';
import { PLATFORM_ID } from './api-schemas.ts';
import { operation, route } from './operation.ts';

export const breakerOperations = {
  list: operation({
    method: 'get',
    path: '/monitoring/breakers',
    operationId: 'listBreakers',
    summary: 'Platform breakers as each sync-worker and collector replica sees them',
    description:
      '`unavailable` names a worker service that did not answer; the breakers of the others are still listed.',
    tag: 'monitoring',
    role: 'viewer',
    query: z.object({ platformId: z.uuid().optional() }),
    responses: {
      200: {
        description: 'The breakers',
        schema: z
          .object({ items: z.array(breakerView), unavailable: z.array(z.string()) })
          .meta({ id: 'BreakerList' }),
      },
    },
  }),
  reset: operation({
    method: 'post',
    path: '/platforms/:id/breaker/reset',
    operationId: 'resetBreaker',
    summary:
      'Close the platform’s breaker on every sync-worker and collector (each on its next call)',
    tag: 'platform sync',
    role: 'operator',
    params: z.object({ id: z.uuid().meta({ description: 'Platform id', example: PLATFORM_ID }) }),
    responses: {
      200: {
        description: 'When it was reset',
        schema: z
          .object({ platformId: z.uuid(), resetAt: z.iso.datetime() })
          .meta({ id: 'BreakerReset' }),
      },
    },
    errors: [404, 503],
  }),
};

/**
 * Platform breakers as each replica of the sync-worker and the collector sees them (`unavailable`
 * names a service that did not answer), and an operator reset that reaches both.
 */
export function breakerRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  const breakers = createBreakerDirectory(rpc);
  route(router, breakerOperations.list, async (ctx, { query }) => {
    ctx.body = await breakers.list(query.platformId);
  });
  route(router, breakerOperations.reset, async (ctx, { params: { id } }) => {
    // A mistyped id is a 404, not a reset that reached nothing.
    await rpc.call(platformGet, { id });
    ctx.body = await breakers.reset(id);
  });
  return router;
}
