import { Readable } from 'node:stream';
import Router from '@koa/router';
import { z } from 'zod';
import {
  collectionChildren,
  collectionDocuments,
  collectionExport,
  collectionGet,
  collectionRequest,
  isFinalJobStatus,
  pageRequest,
  platformGet,
  type Collection,
} from '@psc/contracts';
import { AppError, ConflictError, NotFoundError, ValidationError } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import type { JobReader } from '../../data-access/job-reader.ts';
import { createRunNow } from '../../data-access/run-now.ts';
import { JOB_ID, PLATFORM_ID } from './api-schemas.ts';
import { operation, route } from './operation.ts';

const jobParams = z.object({ jobId: z.uuid().meta({ description: 'Job id', example: JOB_ID }) });
const tag = 'collections';
const Started = z
  .object({ jobId: z.uuid() })
  .meta({ id: 'CollectionStarted', example: { jobId: JOB_ID } });
export const startedResponse = {
  description:
    'The collect job, queued; follow it at /api/v1/jobs/{jobId} or /api/v1/collections/{jobId}',
  schema: Started,
};

export const collectionOperations = {
  start: operation({
    method: 'post',
    path: '/collections',
    operationId: 'startCollection',
    summary: 'Start a collect run of a collector resource with its params',
    tag,
    role: 'operator',
    body: collectionRequest.meta({
      id: 'CollectionRequest',
      example: {
        platformId: PLATFORM_ID,
        resource: 'races',
        params: { date: '2024-05-01', meet: 'ascot' },
        priority: 7,
      },
    }),
    responses: { 202: startedResponse },
    errors: [404, 409],
  }),
  get: operation({
    method: 'get',
    path: '/collections/:jobId',
    operationId: 'getCollection',
    summary: 'A collection run: status, document count, fan-out children',
    description:
      '`queued` (nothing collected, `startedAt` null) while the collect job waits in the queue; 404 for a job that is not a collect job, or that ended before it collected anything (cancelled while queued).',
    tag,
    role: 'viewer',
    params: jobParams,
    responses: {
      200: {
        description: 'The collection',
        schema: collectionGet.response.meta({ id: 'Collection' }),
      },
    },
    errors: [404],
  }),
  documents: operation({
    method: 'get',
    path: '/collections/:jobId/documents',
    operationId: 'listCollectionDocuments',
    summary: 'Raw documents a collection fetched, with provenance',
    tag,
    role: 'viewer',
    params: jobParams,
    query: z.object(pageRequest),
    responses: {
      200: {
        description: 'A page of documents',
        schema: collectionDocuments.response.meta({ id: 'CollectedDocumentPage' }),
      },
    },
    errors: [404],
  }),
  children: operation({
    method: 'get',
    path: '/collections/:jobId/children',
    operationId: 'listCollectionChildren',
    summary: "A fan-out collection's children by index: state, error, when and where each ended",
    description:
      "The current run's children (a replayed collection shows its latest run's), kept as long as the collection, unlike the log lines of their failures. `cursor` is the `nextCursor` of the previous page. A collection without fan-out has none; a collect job still queued has none yet.",
    tag,
    role: 'viewer',
    params: jobParams,
    query: collectionChildren.request.omit({ jobId: true }),
    responses: {
      200: {
        description: 'A page of children, by index',
        schema: collectionChildren.response.meta({ id: 'CollectionChildPage' }),
      },
    },
    errors: [404],
  }),
  export: operation({
    method: 'get',
    path: '/collections/:jobId/documents/export',
    operationId: 'exportCollectionDocuments',
    summary: 'Every document of a collection, streamed as JSON lines with provenance',
    description:
      'One line per document: the same object as in `/collections/{jobId}/documents` (`data` holds what the platform sent).',
    tag,
    role: 'viewer',
    params: jobParams,
    query: z.object({
      format: z.enum(['jsonl']).default('jsonl').meta({ description: 'JSON lines' }),
    }),
    responses: {
      200: {
        description: 'The documents, one per line',
        content: {
          'application/x-ndjson': z.string().meta({
            example: `{"id":"1","jobId":"${JOB_ID}","childIndex":null,"data":{"race":1}}\n`,
          }),
        },
      },
    },
    errors: [404],
  }),
};

/**
 * Streams a collection's documents page by page as the client reads: one page (at most ~200 KB of
 * text, rendered by the collector) is in the gateway at a time, whatever the collection's size.
 */
function exportStream(rpc: RpcClient<'gateway'>, jobId: string): Readable {
  async function* pages(): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      const page = await rpc.call(collectionExport, {
        jobId,
        limit: 1_000,
        ...(cursor ? { cursor } : {}),
      });
      if (page.text) yield page.text;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
  return Readable.from(pages(), { objectMode: false, highWaterMark: 1 });
}

const notFound = (err: unknown) => err instanceof AppError && err.status === 404;

/**
 * A collection as the collector records it from the moment it starts collecting; before that,
 * what the ledger says of the collect job, so a client following the run it just started sees
 * it `queued` instead of a 404. A job that ended without the collector ever recording it (cancelled
 * while queued) has no collection.
 */
async function collectionOf(
  rpc: RpcClient<'gateway'>,
  readJob: JobReader,
  jobId: string,
): Promise<{ collection: Collection; recorded: boolean }> {
  try {
    return { collection: await rpc.call(collectionGet, { jobId }), recorded: true };
  } catch (err) {
    if (!notFound(err)) throw err;
    const job = await readJob(jobId).catch((e: unknown) => {
      throw notFound(e) ? err : e;
    });
    if (job.taskType !== 'collect') {
      throw new NotFoundError(`job ${jobId} is a ${job.taskType} job, not a collection`);
    }
    if (isFinalJobStatus(job.status)) {
      throw new NotFoundError(
        `job ${jobId} ended ${job.status} before it collected anything (GET /api/v1/jobs/${jobId})`,
      );
    }
    // Queued, waiting for a retry, or started a moment ago (the collector's record is on its way).
    const collection: Collection = {
      jobId,
      platformId: job.platformId,
      resource: job.resource,
      params: job.params,
      status: job.status === 'running' ? 'running' : 'queued',
      documents: 0,
      children: null,
      startedAt: job.startedAt,
      finishedAt: null,
    };
    return { collection, recorded: false };
  }
}

/**
 * Starts a collect run through the scheduler (which keeps the ledger) after checking the
 * resource is a collector and the run carries every declared param: a clear 4xx now instead
 * of a job that fails later.
 */
export async function startCollection(
  rpc: RpcClient<'gateway'>,
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

export function collectionRoutes(rpc: RpcClient<'gateway'>, readJob: JobReader): Router {
  const router = new Router();
  const runNow = createRunNow(rpc);
  route(router, collectionOperations.start, async (ctx, { body }) => {
    const started = await startCollection(rpc, runNow, body);
    ctx.status = 202;
    ctx.set('Location', `/api/v1/jobs/${started.jobId}`);
    ctx.body = started;
  });
  route(router, collectionOperations.get, async (ctx, { params }) => {
    ctx.body = (await collectionOf(rpc, readJob, params.jobId)).collection;
  });
  route(router, collectionOperations.documents, async (ctx, { params: { jobId }, query }) => {
    const page = await rpc.call(collectionDocuments, { jobId, ...query });
    // The collector keeps documents, not collections: an empty first page of a job that is no
    // collection is a 404, as the collection's other routes answer, not an empty run.
    if (page.items.length === 0 && query.cursor === undefined) {
      await collectionOf(rpc, readJob, jobId);
    }
    ctx.body = page;
  });
  route(router, collectionOperations.children, async (ctx, { params: { jobId }, query }) => {
    try {
      ctx.body = await rpc.call(collectionChildren, { jobId, ...query });
    } catch (err) {
      if (!notFound(err)) throw err;
      // A collect job the collector has not recorded yet has no children; anything else is a 404.
      await collectionOf(rpc, readJob, jobId);
      ctx.body = { items: [], nextCursor: null };
    }
  });
  route(router, collectionOperations.export, async (ctx, { params: { jobId } }) => {
    // Before the first byte: an unknown collection is a 404, not an empty download.
    const { recorded } = await collectionOf(rpc, readJob, jobId);
    ctx.type = 'application/x-ndjson';
    ctx.set('Content-Disposition', `attachment; filename="collection-${jobId}.jsonl"`);
    // Nothing is collected before the collector records the run (it would 404 the export).
    ctx.body = recorded ? exportStream(rpc, jobId) : '';
  });
  return router;
}
