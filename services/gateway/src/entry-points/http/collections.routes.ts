import Router from '@koa/router';
import { z } from 'zod';
import {
  collectionDocuments,
  collectionGet,
  collectionRequest,
  pageRequest,
  platformGet,
} from '@psc/contracts';
import { ConflictError, NotFoundError, ValidationError } from '@psc/core';
import { body, params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { createRunNow } from '../../data-access/run-now.ts';
import { requireRole } from './auth.ts';

const jobParams = z.object({ jobId: z.uuid() });

/**
 * Starts a collect run through the scheduler (which keeps the ledger) after checking the
 * resource is a collector and the run carries every declared param: a clear 4xx now instead
 * of a job that fails later.
 */
export async function startCollection(
  rpc: RpcClient,
  runNow: ReturnType<typeof createRunNow>,
  request: z.infer<typeof collectionRequest>,
): Promise<{ jobId: string }> {
  const platform = await rpc.call(platformGet, { id: request.platformId });
  const resource = platform.resources.find((r) => r.name === request.resource);
  if (!resource)
    throw new NotFoundError(`platform ${platform.name} has no resource ${request.resource}`);
  if (!resource.tasks.includes('collect')) {
    throw new ConflictError(`resource ${request.resource} is not a collector`);
  }
  const missing = resource.params.filter(
    (p) => request.params[p] === undefined || request.params[p] === null,
  );
  if (missing.length > 0) {
    throw new ValidationError(
      `missing params: ${missing.join(', ')}`,
      missing.map((p) => ({ path: `body.params.${p}`, message: 'required by the collector' })),
    );
  }
  const { jobs } = await runNow({
    platformId: request.platformId,
    resource: request.resource,
    params: request.params,
    taskType: 'collect',
    ...(request.priority === undefined ? {} : { priority: request.priority }),
  });
  const job = jobs[0];
  if (!job) throw new ConflictError('the scheduler queued no job');
  return { jobId: job.id };
}

export function collectionRoutes(rpc: RpcClient): Router {
  const router = new Router();
  const runNow = createRunNow(rpc);
  router.post('/collections', requireRole('operator'), async (ctx) => {
    const request = body(ctx, collectionRequest);
    const started = await startCollection(rpc, runNow, request);
    ctx.status = 202;
    ctx.set('Location', `/api/v1/jobs/${started.jobId}`);
    ctx.body = started;
  });
  router.get('/collections/:jobId', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(collectionGet, params(ctx, jobParams));
  });
  router.get('/collections/:jobId/documents', requireRole('viewer'), async (ctx) => {
    const { jobId } = params(ctx, jobParams);
    ctx.body = await rpc.call(collectionDocuments, { jobId, ...query(ctx, z.object(pageRequest)) });
  });
  return router;
}
