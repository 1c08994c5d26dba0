import { z } from 'zod';
import { defineRpc } from './rpc.ts';
import { TASK_TYPES } from './topology.ts';
import { job } from './job.ts';
import { page, pageRequest } from './record.ts';
import { scheduleSpec } from './schedule.ts';
import {
  jobListRequest,
  platformSyncStatus,
  schedulerStatus,
  taskConfig,
  taskConfigsInput,
} from './scheduler.ts';

const reason = z.string().max(500).optional();

export const schedulerStatusGet = defineRpc(
  'scheduler',
  'scheduler.status',
  z.object({}),
  schedulerStatus,
);
export const schedulerControl = defineRpc(
  'scheduler',
  'scheduler.control',
  z.object({ action: z.enum(['pause', 'resume', 'stop', 'start']), reason }),
  schedulerStatus,
);
export const schedulerConfigList = defineRpc(
  'scheduler',
  'scheduler.config.list',
  z.object({}),
  z.object({ items: z.array(taskConfig) }),
);
export const schedulerConfigGet = defineRpc(
  'scheduler',
  'scheduler.config.get',
  z.object({ taskType: z.enum(TASK_TYPES) }),
  taskConfig,
);
export const schedulerConfigPut = defineRpc(
  'scheduler',
  'scheduler.config.put',
  z.object({ taskType: z.enum(TASK_TYPES), config: scheduleSpec }),
  taskConfig,
);
/** Pauses (with a reason) or resumes one task type's schedules; audited. */
export const schedulerConfigPause = defineRpc(
  'scheduler',
  'scheduler.config.pause',
  z.object({
    taskType: z.enum(TASK_TYPES),
    action: z.enum(['pause', 'resume']),
    reason: z.string().trim().min(1).max(500).optional(),
  }),
  taskConfig,
);
export const schedulerConfigPutMany = defineRpc(
  'scheduler',
  'scheduler.config.put-many',
  taskConfigsInput,
  z.object({ items: z.array(taskConfig) }),
);

export const jobList = defineRpc('scheduler', 'job.list', jobListRequest, page(job));
export const jobCancel = defineRpc(
  'scheduler',
  'job.cancel',
  z.object({ id: z.uuid(), reason }),
  job,
);

export const platformSyncControl = defineRpc(
  'scheduler',
  'platform.sync.control',
  z.object({ platformId: z.uuid(), action: z.enum(['start', 'stop']), reason }),
  platformSyncStatus,
);
export const platformSyncStatusGet = defineRpc(
  'scheduler',
  'platform.sync.status',
  z.object({ platformId: z.uuid() }),
  platformSyncStatus,
);

/** Where one (platform, resource, task) schedule stands. */
export const scheduleState = z.object({
  platformId: z.uuid(),
  resource: z.string(),
  taskType: z.enum(TASK_TYPES),
  nextDueAt: z.iso.datetime(),
  lastRunAt: z.iso.datetime().nullable(),
  consecutiveFailures: z.number().int().nonnegative(),
  autoPauseAfterFailures: z.number().int().nullable(),
  /** Set while this schedule paused itself (failures in a row, a params template that fails). */
  pausedReason: z.string().nullable(),
});
export type ScheduleState = z.infer<typeof scheduleState>;

/**
 * Every schedule the scheduler keeps (one per platform × resource × task it runs), or those of one
 * platform, one task type or both.
 */
export const scheduleList = defineRpc(
  'scheduler',
  'schedule.list',
  z.object({
    platformId: z.uuid().optional(),
    taskType: z.enum(TASK_TYPES).optional(),
    ...pageRequest,
  }),
  page(scheduleState),
);

/**
 * Whether one collector's (platform × collect resource) schedule runs. A stopped one gets no
 * scheduled runs; run-now (`once`, the collections API) still runs it.
 */
export const collectScheduleState = z.object({
  platformId: z.uuid(),
  resource: z.string(),
  enabled: z.boolean(),
  /** The reason given with the stop; null while it runs or when none was given. */
  reason: z.string().nullable(),
  stoppedAt: z.iso.datetime().nullable(),
});
export type CollectScheduleState = z.infer<typeof collectScheduleState>;

/** Stops (with its queued scheduled runs cancelled) or starts one collector's schedule; audited. */
export const collectScheduleControl = defineRpc(
  'scheduler',
  'collect.schedule.control',
  z.object({
    platformId: z.uuid(),
    resource: z.string().min(1).max(100),
    action: z.enum(['start', 'stop']),
    reason,
  }),
  collectScheduleState,
  // The collector hands over the stops it kept itself before the scheduler owned them.
  ['gateway', 'collector'],
);
/** Every stopped collector schedule (a running one has no entry). */
export const collectScheduleStops = defineRpc(
  'scheduler',
  'collect.schedule.stops',
  z.object({}),
  z.object({ items: z.array(collectScheduleState) }),
  // The collector reads when the scheduler took a stop another replica handed over.
  ['gateway', 'collector'],
);
