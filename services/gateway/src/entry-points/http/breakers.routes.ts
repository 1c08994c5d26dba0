import Router from '@koa/router';
import { z } from 'zod';
import { breakerList, breakerReset } from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { PLATFORM_ID } from './api-schemas.ts';
import { operation, route } from './operation.ts';

export const breakerOperations = {
  list: operation({
    method: 'get',
    path: '/monitoring/breakers',
    operationId: 'listBreakers',
    summary: 'Platform breakers as each sync-worker replica sees them',
    tag: 'monitoring',
    role: 'viewer',
    query: z.object({ platformId: z.uuid().optional() }),
    responses: {
      200: {
        description: 'The breakers',
        schema: breakerList.response.meta({ id: 'BreakerList' }),
      },
    },
  }),
  reset: operation({
    method: 'post',
    path: '/platforms/:id/breaker/reset',
    operationId: 'resetBreaker',
    summary: 'Close the platform’s breaker on every worker (each on its next call)',
    tag: 'platform sync',
    role: 'operator',
    params: z.object({ id: z.uuid().meta({ description: 'Platform id', example: PLATFORM_ID }) }),
    responses: {
      200: {
        description: 'When it was reset',
        schema: breakerReset.response.meta({ id: 'BreakerReset' }),
      },
    },
    errors: [404],
  }),
};

/** Platform breakers as each sync-worker replica sees them, and an operator reset. */
export function breakerRoutes(rpc: RpcClient): Router {
  const router = new Router();
  route(router, breakerOperations.list, async (ctx, { query }) => {
    ctx.body = await rpc.call(breakerList, query);
  });
  route(router, breakerOperations.reset, async (ctx, { params: { id } }) => {
    ctx.body = await rpc.call(breakerReset, { platformId: id });
  });
  return router;
}
