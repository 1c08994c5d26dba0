import Router from '@koa/router';
import { z } from 'zod';
import { pageRequest, validationGet, validationList } from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { JOB_ID } from './api-schemas.ts';
import { operation, relay, route } from './operation.ts';

const tag = 'validations';

export const validationOperations = {
  list: operation({
    method: 'get',
    path: '/validations',
    operationId: 'listValidations',
    summary: 'Drift reports of validate jobs, newest first',
    tag,
    role: 'viewer',
    query: z.object({
      platformId: z.uuid().optional(),
      resource: z.string().min(1).max(200).optional(),
      ...pageRequest,
    }),
    responses: {
      200: {
        description: 'A page of drift summaries',
        schema: validationList.response.meta({ id: 'DriftSummaryPage' }),
      },
    },
  }),
  get: operation({
    method: 'get',
    path: '/validations/:jobId',
    operationId: 'getValidation',
    summary: 'The full drift report of a validate job, with field diffs',
    tag,
    role: 'viewer',
    params: z.object({ jobId: z.uuid().meta({ description: 'Job id', example: JOB_ID }) }),
    responses: {
      200: {
        description: 'The drift report',
        schema: validationGet.response.meta({ id: 'DriftReport' }),
      },
    },
    errors: [404],
  }),
};

/** Drift reports of validate jobs. */
export function validationRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  route(router, validationOperations.list, (ctx, { query }) =>
    relay(ctx, rpc.relay(validationList, query)),
  );
  route(router, validationOperations.get, (ctx, { params }) =>
    relay(ctx, rpc.relay(validationGet, params)),
  );
  return router;
}
