import Router from '@koa/router';
import { z } from 'zod';
import {
  deadLetterDetail,
  dlqDelete,
  dlqFilter,
  dlqGet,
  dlqList,
  DLQ_REPLAY_MAX,
  dlqReplay,
  jobParams,
  pageRequest,
} from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { JOB_ID, PLATFORM_ID } from './api-schemas.ts';
import { operation, route } from './operation.ts';

const byJob = z.object({
  jobId: z.uuid().meta({
    description: "The dead job's id, or a poison message's own id (`id` in the list)",
    example: JOB_ID,
  }),
});
const replayBody = z
  .strictObject({
    reason: z
      .string()
      .trim()
      .min(1)
      .max(500)
      .optional()
      .meta({ description: 'Why, for the audit log' }),
    params: jobParams.optional().meta({
      description:
        "Params merged into the job's own for the new run (a JSON merge patch, RFC 7396): a key given replaces the job's, null removes it, keys left out keep the job's value (secrets included). `[redacted]` is refused: it is not a value. A collect job's merged params must give every param its resource declares",
    }),
  })
  .meta({
    id: 'ReplayRequest',
    example: { reason: 'the date was sent as 2024-05-03', params: { date: '20240503' } },
  });
const Replayed = dlqReplay.response.meta({
  id: 'Replayed',
  example: { replayed: [JOB_ID], more: false },
});
const tag = 'dead letters';

export const dlqOperations = {
  list: operation({
    method: 'get',
    path: '/dlq',
    operationId: 'listDeadLetters',
    summary: 'Dead-lettered jobs of every task type (filters platform, resource, task, reason)',
    tag,
    role: 'viewer',
    query: dlqFilter.extend(pageRequest),
    responses: {
      200: {
        description: 'A page of dead letters',
        schema: dlqList.response.meta({ id: 'DeadLetterPage' }),
      },
    },
  }),
  get: operation({
    method: 'get',
    path: '/dlq/:jobId',
    operationId: 'getDeadLetter',
    summary: 'One dead letter: why it died, its last error and its message (secrets redacted)',
    description:
      "The message is the dead job's `job.run` as the job ledger sends it (rebuilt from the ledger's row, null once the row is purged), or a poison message's headers and body as parked (the first 2,000 characters; `truncated` says when it was longer). Values under secret-looking names (token, password, api key, authorization, cookie…), bearer and basic credentials, passwords in URLs and secret query parameters are replaced by `[redacted]`.",
    tag,
    role: 'viewer',
    params: byJob,
    responses: {
      200: {
        description: 'The dead letter',
        schema: deadLetterDetail.meta({ id: 'DeadLetterDetail' }),
      },
    },
    errors: [404],
  }),
  replayMany: operation({
    method: 'post',
    path: '/dlq/replay',
    operationId: 'replayDeadLetters',
    summary: 'Replay the dead jobs matching the filter (trigger replay, attempts from 1)',
    description: `Takes up to ${DLQ_REPLAY_MAX.toLocaleString('en')} of the matching dead jobs, oldest first, out of the dead-letter queue and queues each as its next run, in one transaction. \`more: true\` says that the filter matches more: call again for the next ones. An empty filter matches every dead job. Letters of jobs purged from the ledger (\`PSC_JOB_RETENTION_DAYS\`) are not replayed; inspect or delete them.`,
    tag,
    role: 'operator',
    body: dlqFilter.meta({ id: 'DeadLetterFilter', example: { platformId: PLATFORM_ID } }),
    responses: { 200: { description: 'The jobs replayed', schema: Replayed } },
  }),
  replay: operation({
    method: 'post',
    path: '/dlq/:jobId/replay',
    operationId: 'replayDeadLetter',
    summary: 'Replay one dead job, with its own params or with mended ones',
    description:
      'Runs the job again under its id as its next run (trigger `replay`, attempts from 1). With `params`, for a job that failed on a wrong param (a wrong date, say), that run takes the job’s params with these merged in: give only what changes, null removes a key, and a secret the job carried stays without being given again. Refused with 422, and the job stays dead: a `[redacted]` value (what psc shows in place of a secret), merged params over 64 KiB, or a collect job lacking a param its resource declares (each named). A dead letter that names no job run (`replayable: false`, a message outside its contract) is refused with 409.',
    tag,
    role: 'operator',
    params: byJob,
    body: replayBody.optional(),
    responses: { 200: { description: 'The job replayed', schema: Replayed } },
    errors: [404, 409],
  }),
  delete: operation({
    method: 'delete',
    path: '/dlq/:jobId',
    operationId: 'deleteDeadLetter',
    summary: 'Forget a dead job',
    tag,
    role: 'operator',
    params: byJob,
    responses: { 204: { description: 'Deleted' } },
    errors: [404],
  }),
};

/** The sync-worker's dead-letter queue: inspect, replay (one or by filter), delete. */
export function dlqRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  route(router, dlqOperations.list, async (ctx, { query }) => {
    ctx.body = await rpc.call(dlqList, query);
  });
  route(router, dlqOperations.get, async (ctx, { params }) => {
    ctx.body = await rpc.call(dlqGet, params);
  });
  route(router, dlqOperations.replayMany, async (ctx, { body }) => {
    ctx.body = await rpc.call(dlqReplay, body);
  });
  route(router, dlqOperations.replay, async (ctx, { params, body }) => {
    ctx.body = await rpc.call(dlqReplay, {
      ...params,
      ...(body?.params && { params: body.params }),
    });
  });
  route(router, dlqOperations.delete, async (ctx, { params }) => {
    await rpc.call(dlqDelete, params);
    ctx.status = 204;
  });
  return router;
}
