import { JOB_QUEUE_FOR_TASK, type PlatformSyncStatus } from '@psc/contracts';
import type { Clock } from '@psc/core';
import { redactUrl } from '@psc/telemetry';
import type { ControlRepository } from '../data-access/control.repository.ts';
import type { ControlStore } from '../data-access/control.store.ts';
import type { JobRepository } from '../data-access/job.repository.ts';
import type { PlatformView } from '../data-access/platform.repository.ts';
import type { ScheduleRepository } from '../data-access/schedule.repository.ts';
import { applySpec, defaultSpec, effectiveSpec, nextFireTimes } from './schedule-spec.ts';

/**
 * Seed 004's per-platform sync control: stop halts the platform's schedules and cancels its
 * queued jobs, start resumes them (and lifts an automatic pause); status shows the schedule.
 */
export function createPlatformSync(deps: {
  clock: Clock;
  store: ControlStore;
  control: ControlRepository;
  /** The scheduler's projection of a platform, asked of the registry if not projected yet. */
  platformById: (id: string) => Promise<PlatformView>;
  schedules: ScheduleRepository;
  jobs: JobRepository;
  /** Live consumers of a queue as the broker counts them; null when it cannot be asked. */
  liveConsumers: (queue: string) => Promise<number | null>;
}) {
  async function status(platformId: string): Promise<PlatformSyncStatus> {
    const platform = await deps.platformById(platformId);
    const now = deps.clock.now();
    const [taskRows, control, rows, lastJob, lastUpdate, audit, workersAlive] = await Promise.all([
      deps.schedules.taskConfigs(),
      deps.control.get(),
      deps.schedules.forPlatform(platformId),
      deps.jobs.latestFor(platformId, 'sync'),
      deps.jobs.lastFinishedAt(platformId, 'sync'),
      platform.syncEnabled ? [] : deps.control.auditLog(`platform:${platformId}`, 1),
      deps.liveConsumers(JOB_QUEUE_FOR_TASK.sync),
    ]);
    const taskRow = taskRows.find((r) => r.task_type === 'sync');
    const base = applySpec(defaultSpec('sync'), taskRow?.spec);
    const syncResource = platform.resources.find((r) => r.tasks.includes('sync'));
    const spec = effectiveSpec('sync', base, platform.schedule, syncResource?.schedule);
    const syncRows = rows.filter((r) => r.task_type === 'sync');
    const paused =
      !!taskRow?.paused_reason || (syncRows.length > 0 && syncRows.every((r) => r.paused_reason));
    const isRunning =
      platform.active &&
      platform.syncEnabled &&
      control.state === 'running' &&
      spec.enabled &&
      !!syncResource &&
      !paused;
    return {
      platformId,
      isRunning,
      syncInterval: spec.cron === null ? spec.intervalSeconds : null,
      cron: spec.cron,
      apiUrl: platform.baseUrl ? redactUrl(platform.baseUrl) : null,
      lastUpdate: lastUpdate?.toISOString() ?? null,
      lastJob: lastJob ?? null,
      breaker: null,
      nextFireTimes: isRunning ? nextFireTimes(spec, now, 5).map((d) => d.toISOString()) : [],
      pausedReason: isRunning
        ? null
        : control.state !== 'running'
          ? `scheduler ${control.state}${control.reason ? `: ${control.reason}` : ''}`
          : !platform.syncEnabled
            ? `sync stopped${audit[0]?.reason ? `: ${audit[0].reason}` : ''}`
            : (taskRow?.paused_reason ??
              syncRows.find((r) => r.paused_reason)?.paused_reason ??
              null),
      workersAlive,
    };
  }

  async function control(platformId: string, action: 'start' | 'stop', reason?: string) {
    const platform = await deps.platformById(platformId);
    await deps.store.setPlatformSync(
      platformId,
      action === 'start',
      { action: `sync.${action}`, reason },
      `sync stopped for platform ${platform.name}${reason ? `: ${reason}` : ''}`,
      deps.clock.now(),
    );
    return status(platformId);
  }

  return { status, control };
}

export type PlatformSync = ReturnType<typeof createPlatformSync>;
