import Router from '@koa/router';
import { z } from 'zod';
import {
  collectScheduleControl,
  collectScheduleStops,
  collectorList,
  collectorStatus,
  collectorStatusGet,
  controlReason,
  type CollectScheduleState,
  type CollectorInfo,
  type CollectorStatus as Status,
} from '@psc/contracts';
import { AppError } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import { createRunNow } from '../../data-access/run-now.ts';
import { auditTargetIs } from './audit-trail.ts';
import { startCollection, startedResponse } from './collections.routes.ts';
import { operation, route } from './operation.ts';

/** A collector is `<platform>/<resource>`: two path segments. */
const nameParams = z
  .object({
    platform: z.string().min(1).max(100).meta({ description: 'Platform name', example: 'racing' }),
    resource: z.string().min(1).max(100).meta({ description: 'Resource name', example: 'races' }),
  })
  .transform((p) => `${p.platform}/${p.resource}`);
const onceBody = z
  .strictObject({
    params: z.record(z.string(), z.unknown()).default({}),
    priority: z.number().int().min(1).max(9).optional(),
  })
  .meta({ id: 'CollectOnceRequest', example: { params: { date: '2024-05-01' } } })
  .default({ params: {} });
const CollectorStatus = collectorStatus.meta({ id: 'CollectorStatus' });
const CollectorList = z.object({ items: z.array(CollectorStatus) }).meta({ id: 'CollectorList' });
const tag = 'collectors';

const control = (action: 'start' | 'stop') =>
  operation({
    method: 'post',
    path: `/collectors/:platform/:resource/${action}`,
    operationId: `${action}Collector`,
    summary:
      action === 'stop'
        ? 'Stop a collector’s scheduled runs and cancel its queued ones (once and the collections API still run)'
        : 'Start a collector’s scheduled runs again',
    tag,
    role: 'operator',
    params: nameParams,
    body: controlReason.meta({ example: { reason: 'source closed for the season' } }).optional(),
    responses: { 200: { description: 'The collector', schema: CollectorStatus } },
    errors: [404],
  });

export const collectorOperations = {
  list: operation({
    method: 'get',
    path: '/collectors',
    operationId: 'listCollectors',
    summary: 'Every `<platform>/<resource>` collector',
    description:
      'Each with `enabled` from the scheduler, which holds the switch; `null` while the scheduler does not answer.',
    tag,
    role: 'viewer',
    responses: {
      200: { description: 'The collectors', schema: CollectorList },
    },
  }),
  status: operation({
    method: 'get',
    path: '/collectors/:platform/:resource/status',
    operationId: 'getCollector',
    summary: 'A collector: params, fan-out, enabled, running and last run',
    description:
      '`enabled` is `null` while the scheduler, which holds the switch, does not answer.',
    tag,
    role: 'viewer',
    params: nameParams,
    responses: { 200: { description: 'The collector', schema: CollectorStatus } },
    errors: [404],
  }),
  start: control('start'),
  stop: control('stop'),
  once: operation({
    method: 'post',
    path: '/collectors/:platform/:resource/once',
    operationId: 'collectOnce',
    summary: 'Run a collector once now with these params',
    tag,
    role: 'operator',
    params: nameParams,
    body: onceBody,
    responses: { 202: startedResponse },
    errors: [404, 409],
  }),
};

export function collectorRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  const runNow = createRunNow(rpc);
  const ops = collectorOperations;

  type Switch = Pick<Status, 'enabled' | 'stoppedReason' | 'stoppedAt'>;
  /** The scheduler did not answer: the switch is unknown. */
  const UNKNOWN: Switch = { enabled: null, stoppedReason: null, stoppedAt: null };
  const RUNS: Switch = { enabled: true, stoppedReason: null, stoppedAt: null };
  /** A collector's switch as the scheduler holds it (a stop, or none), with a stop's reason and time. */
  const switchOf = (state: CollectScheduleState | undefined): Switch =>
    !state || state.enabled
      ? RUNS
      : { enabled: false, stoppedReason: state.reason, stoppedAt: state.stoppedAt };

  /**
   * The collector's view of its collectors with the scheduler's switch of each. While the
   * scheduler is away (503, 504) they are listed with `enabled: null`: an operator looking into
   * that outage still sees what the collector runs.
   */
  async function withSwitches(collectors: Promise<CollectorInfo[]>): Promise<Status[]> {
    const [infos, stops] = await Promise.all([
      collectors,
      rpc.call(collectScheduleStops, {}).catch((err: unknown) => {
        if (err instanceof AppError && (err.status === 503 || err.status === 504)) return null;
        throw err;
      }),
    ]);
    if (!stops) return infos.map((c) => ({ ...c, ...UNKNOWN }));
    const stopped = new Map(stops.items.map((s) => [`${s.platformId}/${s.resource}`, s]));
    return infos.map((c) => ({
      ...c,
      ...switchOf(stopped.get(`${c.platformId}/${c.resource}`)),
    }));
  }

  route(router, ops.list, async (ctx) => {
    const items = rpc.call(collectorList, {}).then((list) => list.items);
    ctx.body = { items: await withSwitches(items) };
  });
  route(router, ops.status, async (ctx, { params: name }) => {
    const [status] = await withSwitches(
      rpc.call(collectorStatusGet, { name }).then((info) => [info]),
    );
    ctx.body = status;
  });
  for (const action of ['start', 'stop'] as const) {
    route(router, ops[action], async (ctx, { params: name, body }) => {
      // The collector knows the collector by name (404 if there is none); the scheduler owns
      // its schedule.
      const info = await rpc.call(collectorStatusGet, { name });
      auditTargetIs(ctx.state, info.platformId);
      const state = await rpc.call(collectScheduleControl, {
        platformId: info.platformId,
        resource: info.resource,
        action,
        ...(body?.reason ? { reason: body.reason } : {}),
      });
      ctx.body = { ...info, ...switchOf(state) } satisfies Status;
    });
  }
  route(router, ops.once, async (ctx, { params: name, body: run }) => {
    const status = await rpc.call(collectorStatusGet, { name });
    auditTargetIs(ctx.state, status.platformId);
    const started = await startCollection(rpc, runNow, {
      platformId: status.platformId,
      resource: status.resource,
      params: run.params,
      ...(run.priority === undefined ? {} : { priority: run.priority }),
    });
    ctx.status = 202;
    ctx.body = started;
  });
  return router;
}
