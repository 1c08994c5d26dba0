import {
  collectScheduleControl,
  collectScheduleStops,
  jobCancel,
  jobGet,
  jobGetMany,
  jobList,
  jobRunNow,
  platformSyncControl,
  platformSyncStatusGet,
  schedulerConfigGet,
  schedulerConfigList,
  schedulerConfigPause,
  scheduleCursor,
  scheduleList,
  schedulerConfigPut,
  schedulerConfigPutMany,
  schedulerControl,
  schedulerStatusGet,
} from '@psc/contracts';
import { NotFoundError } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import { currentTraceId, startSpanInTrace } from '@psc/telemetry';
import type { ScheduleRepository } from '../../data-access/schedule.repository.ts';
import type { JobRepository } from '../../data-access/job.repository.ts';
import type { LedgerStore } from '../../data-access/ledger.store.ts';
import type { CollectSchedule } from '../../domain/collect-schedule.ts';
import type { PlatformSync } from '../../domain/platform-sync.ts';
import type { RunNow } from '../../domain/run-now.ts';
import type { SchedulerControl } from '../../domain/scheduler-control.ts';
import type { TaskConfigs } from '../../domain/task-config.ts';
import { redactSecrets } from '../../domain/redact-secrets.ts';

/**
 * A job as the API shows it: params with secret-named values masked, as a dead letter shows
 * them. Every viewer can read jobs; only the worker needs the params as they are (`job.run`).
 */
const jobView = <J extends { params: Record<string, unknown> }>(job: J): J => ({
  ...job,
  params: redactSecrets(job.params) as Record<string, unknown>,
});

export function jobRpcHandlers(deps: {
  jobs: JobRepository;
  runNow: RunNow;
  ledger: LedgerStore;
}): RpcHandler[] {
  return [
    rpcHandler(jobRunNow, async ({ requests }, ctx) => {
      // Untraced gateways send no traceparent: nothing to rebuild on the job path.
      if (!requests.some((r) => r.traceparent)) {
        return { results: await deps.runNow(requests, ctx.correlationId) };
      }
      // A request that came in another's call (the gateway coalesces them) gets a span of its
      // own in its own trace, linked to this call's: its jobs are published under it.
      const call = currentTraceId();
      const spans = requests.map((r) =>
        r.traceparent && r.traceparent.slice(3, 35) !== call
          ? startSpanInTrace(`run-now ${r.taskType}`, { parent: r.traceparent })
          : undefined,
      );
      const own = requests.map((r, i) => {
        const { traceparent: _sent, ...rest } = r;
        const traceparent = spans[i]?.traceparent;
        return traceparent ? { ...rest, traceparent } : rest;
      });
      try {
        const results = await deps.runNow(own, ctx.correlationId);
        results.forEach((result, i) => spans[i]?.end(result.ok ? undefined : result.error.message));
        return { results };
      } catch (err) {
        for (const span of spans) span?.end(err);
        throw err;
      }
    }),
    // The gateway reads through job.get-many; this one answers the tests and older gateways.
    rpcHandler(jobGet, async ({ id }) => {
      const job = await deps.jobs.findById(id);
      if (!job) throw new NotFoundError(`job ${id} not found`);
      return jobView(job);
    }),
    rpcHandler(jobGetMany, async ({ ids }) => {
      const found = await deps.jobs.findByIds(ids);
      return { jobs: [...found.values()].map(jobView) };
    }),
    rpcHandler(jobList, async (request) => {
      const page = await deps.jobs.list(request);
      return { ...page, items: page.items.map(jobView) };
    }),
    rpcHandler(jobCancel, async ({ id, reason }) => {
      await deps.ledger.cancel(id, reason ?? 'cancelled by operator');
      return jobView((await deps.jobs.findById(id))!);
    }),
  ];
}

export function schedulerRpcHandlers(deps: {
  control: SchedulerControl;
  configs: TaskConfigs;
  platformSync: PlatformSync;
  collectSchedule: CollectSchedule;
  schedules: ScheduleRepository;
}): RpcHandler[] {
  return [
    rpcHandler(schedulerStatusGet, () => deps.control.status()),
    rpcHandler(schedulerControl, ({ action, reason }) => deps.control.apply(action, reason)),
    rpcHandler(schedulerConfigList, async () => ({ items: await deps.configs.list() })),
    rpcHandler(schedulerConfigGet, ({ taskType }) => deps.configs.get(taskType)),
    rpcHandler(schedulerConfigPut, ({ taskType, config }) => deps.configs.put(taskType, config)),
    rpcHandler(scheduleList, async ({ platformId, taskType, limit, cursor }) => {
      const rows = await deps.schedules.page(
        { platformId, taskType, after: scheduleCursor.decode(cursor) },
        limit + 1,
      );
      const items = rows.slice(0, limit);
      const last = items.at(-1);
      return {
        items: items.map((r) => ({
          platformId: r.platform_id,
          resource: r.resource,
          taskType: r.task_type,
          nextDueAt: r.next_due_at.toISOString(),
          lastRunAt: r.last_run_at?.toISOString() ?? null,
          consecutiveFailures: r.consecutive_failures,
          autoPauseAfterFailures: r.auto_pause_after,
          pausedReason: r.paused_reason,
        })),
        nextCursor:
          rows.length > limit && last
            ? scheduleCursor.encode({
                platformId: last.platform_id,
                resource: last.resource,
                taskType: last.task_type,
              })
            : null,
      };
    }),
    rpcHandler(schedulerConfigPause, ({ taskType, action, reason }) =>
      deps.configs.pause(taskType, action, reason),
    ),
    rpcHandler(schedulerConfigPutMany, async (configs) => ({
      items: await deps.configs.putMany(configs),
    })),
    rpcHandler(platformSyncStatusGet, ({ platformId }) => deps.platformSync.status(platformId)),
    rpcHandler(platformSyncControl, ({ platformId, action, reason }) =>
      deps.platformSync.control(platformId, action, reason),
    ),
    rpcHandler(collectScheduleControl, ({ platformId, resource, action, reason }) =>
      deps.collectSchedule.control(platformId, resource, action, reason),
    ),
    rpcHandler(collectScheduleStops, async () => ({
      items: await deps.collectSchedule.stopped(),
    })),
  ];
}
