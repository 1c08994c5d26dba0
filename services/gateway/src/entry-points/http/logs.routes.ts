import Router from '@koa/router';
import { logQuery, logsQuery } from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { operation, relay, route } from './operation.ts';

export const logOperations = {
  list: operation({
    method: 'get',
    path: '/logs',
    operationId: 'listLogs',
    summary: 'Warnings, errors and job log lines of every service (level = that level and above)',
    description:
      'Newest first. `since` and `until` bound the time; a full page has a `nextCursor`, which as `cursor` gives the older entries.',
    tag: 'monitoring',
    role: 'viewer',
    query: logQuery,
    responses: {
      200: {
        description: 'Log entries, newest first',
        schema: logsQuery.response.meta({ id: 'LogList' }),
      },
    },
  }),
};

export function logRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  route(router, logOperations.list, (ctx, { query }) => relay(ctx, rpc.relay(logsQuery, query)));
  return router;
}
