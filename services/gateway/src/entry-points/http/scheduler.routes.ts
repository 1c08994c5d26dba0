import Router from '@koa/router';
import { z } from 'zod';
import {
  TASK_TYPES,
  controlReason,
  page,
  pageRequest,
  scheduleList,
  scheduleState,
  schedulerConfigGet,
  schedulerConfigList,
  schedulerConfigPause,
  schedulerConfigPut,
  schedulerConfigPutMany,
  schedulerControl,
  schedulerStatusGet,
  taskConfig,
  taskConfigInput,
  taskConfigsInput,
} from '@psc/contracts';
import type { RpcClient } from '@psc/messaging';
import { operation, relay, route } from './operation.ts';

const taskType = z
  .preprocess((v) => (v === 'valid' ? 'validate' : v), z.enum(TASK_TYPES))
  .meta({ description: '`sync`, `validate` (alias `valid`) or `collect`', example: 'sync' });
const taskTypeParams = z.object({ taskType });
const SchedulerStatus = schedulerStatusGet.response.meta({ id: 'SchedulerStatus' });
const TaskConfig = taskConfig.meta({ id: 'TaskConfig' });
const TaskConfigList = z.object({ items: z.array(TaskConfig) }).meta({ id: 'TaskConfigList' });
const ScheduleSpec = taskConfigInput.meta({
  id: 'ScheduleSpec',
  example: {
    enabled: true,
    cron: '30 2 * * *',
    timezone: 'Europe/Berlin',
    misfire: 'run_once',
    overlap: 'skip',
  },
});
const ControlReason = controlReason.meta({
  id: 'ControlReason',
  example: { reason: 'db upgrade' },
});

const tag = 'scheduler';
const ACTIONS = {
  pause: 'Pause: stop emitting runs, keep every schedule’s state',
  resume: 'Resume emitting; runs missed meanwhile follow each schedule’s misfire policy',
  stop: 'Stop: pause and cancel queued jobs',
  start: 'Start emitting again after a stop',
} as const;
type Action = keyof typeof ACTIONS;

const control = (action: Action) =>
  operation({
    method: 'post',
    path: `/scheduler/${action}`,
    operationId: `${action}Scheduler`,
    summary: ACTIONS[action],
    tag,
    role: 'operator',
    body: ControlReason.optional(),
    responses: { 200: { description: 'The scheduler’s status', schema: SchedulerStatus } },
  });

const configPause = (action: 'pause' | 'resume') =>
  operation({
    method: 'post',
    path: `/scheduler/config/:taskType/${action}`,
    operationId: `${action}TaskType`,
    summary:
      action === 'pause'
        ? 'Pause one task type’s schedules on every platform, with a reason (audited)'
        : 'Resume a paused task type’s schedules (audited)',
    tag,
    role: 'operator',
    params: taskTypeParams,
    body: ControlReason.optional(),
    responses: { 200: { description: 'The task config', schema: TaskConfig } },
  });

export const schedulerOperations = {
  status: operation({
    method: 'get',
    path: '/scheduler',
    operationId: 'getSchedulerStatus',
    summary: 'State, leader, last tick and counts of the scheduler',
    tag,
    role: 'viewer',
    responses: { 200: { description: 'The scheduler’s status', schema: SchedulerStatus } },
  }),
  pause: control('pause'),
  resume: control('resume'),
  stop: control('stop'),
  start: control('start'),
  listConfigs: operation({
    method: 'get',
    path: '/scheduler/config',
    operationId: 'listTaskConfigs',
    summary: 'Every task type’s schedule with its next fire times',
    tag,
    role: 'viewer',
    responses: { 200: { description: 'The task configs', schema: TaskConfigList } },
  }),
  putConfigs: operation({
    method: 'post',
    path: '/scheduler/config',
    operationId: 'putTaskConfigs',
    summary: 'Replace the schedules of several task types at once',
    tag,
    role: 'operator',
    body: taskConfigsInput.meta({
      id: 'TaskConfigsRequest',
      example: { sync: { enabled: true, intervalSeconds: 300 } },
    }),
    responses: { 200: { description: 'The task configs written', schema: TaskConfigList } },
  }),
  getConfig: operation({
    method: 'get',
    path: '/scheduler/config/:taskType',
    operationId: 'getTaskConfig',
    summary: 'One task type’s schedule with its next fire times',
    tag,
    role: 'viewer',
    params: taskTypeParams,
    responses: { 200: { description: 'The task config', schema: TaskConfig } },
  }),
  putConfig: operation({
    method: 'put',
    path: '/scheduler/config/:taskType',
    operationId: 'putTaskConfig',
    summary: 'Replace one task type’s schedule (422 naming the field for a bad cron or timezone)',
    tag,
    role: 'operator',
    params: taskTypeParams,
    body: ScheduleSpec,
    responses: { 200: { description: 'The task config written', schema: TaskConfig } },
  }),
  pauseConfig: configPause('pause'),
  resumeConfig: configPause('resume'),
  listSchedules: operation({
    method: 'get',
    path: '/schedules',
    operationId: 'listSchedules',
    summary:
      'Every schedule (platform × resource × task), or one platform’s or task type’s, with its next run and why it paused',
    description:
      'One row per resource and task type the scheduler runs on its own. `pausedReason` is set while a schedule paused itself — after `autoPauseAfterFailures` failed runs in a row, or because its params template cannot be filled — and cleared (for all of that platform’s schedules) by `POST /platforms/{id}/sync/start`.',
    tag,
    role: 'viewer',
    query: z.object({
      platformId: z.uuid().optional(),
      taskType: taskType.optional(),
      ...pageRequest,
    }),
    responses: {
      200: {
        description: 'A page of schedules',
        schema: page(scheduleState.meta({ id: 'Schedule' })).meta({ id: 'SchedulePage' }),
      },
    },
  }),
};

/**
 * Seed 000's scheduler API. pause: stop emitting, keep state; stop: also cancel queued jobs;
 * resume/start: emit again, runs missed meanwhile follow each schedule's `misfire` policy.
 */
export function schedulerRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  const ops = schedulerOperations;
  route(router, ops.status, (ctx) => relay(ctx, rpc.relay(schedulerStatusGet, {})));
  for (const action of Object.keys(ACTIONS) as Action[]) {
    route(router, ops[action], (ctx, { body }) =>
      relay(
        ctx,
        rpc.relay(schedulerControl, { action, ...(body?.reason ? { reason: body.reason } : {}) }),
      ),
    );
  }
  route(router, ops.listSchedules, (ctx, { query }) => relay(ctx, rpc.relay(scheduleList, query)));
  route(router, ops.listConfigs, (ctx) => relay(ctx, rpc.relay(schedulerConfigList, {})));
  route(router, ops.putConfigs, (ctx, { body }) =>
    relay(ctx, rpc.relay(schedulerConfigPutMany, body)),
  );
  route(router, ops.getConfig, (ctx, { params }) =>
    relay(ctx, rpc.relay(schedulerConfigGet, params)),
  );
  route(router, ops.putConfig, (ctx, { params: { taskType }, body }) =>
    relay(ctx, rpc.relay(schedulerConfigPut, { taskType, config: body })),
  );
  for (const action of ['pause', 'resume'] as const) {
    route(
      router,
      ops[action === 'pause' ? 'pauseConfig' : 'resumeConfig'],
      (ctx, { params, body }) =>
        relay(
          ctx,
          rpc.relay(schedulerConfigPause, {
            taskType: params.taskType,
            action,
            ...(body?.reason ? { reason: body.reason } : {}),
          }),
        ),
    );
  }
  return router;
}
