import type { Knex } from 'knex';
import type { PlatformSyncStatus } from '@psc/contracts';
import { NotFoundError, type Clock } from '@psc/core';
import type { Outbox } from '@psc/messaging';
import { redactUrl } from '@psc/telemetry';
import type { ControlRepository } from '../data-access/control.repository.ts';
import type { JobRepository } from '../data-access/job.repository.ts';
import type { PlatformRepository } from '../data-access/platform.repository.ts';
import type { ScheduleRepository } from '../data-access/schedule.repository.ts';
import { cancelMessage, writeChunked } from './job-messages.ts';
import { applySpec, defaultSpec, effectiveSpec, nextFireTimes } from './schedule-spec.ts';

/**
 * Seed 004's per-platform sync control: stop halts the platform's schedules and cancels its
 * queued jobs, start resumes them (and lifts an automatic pause); status shows the schedule.
 */
export function createPlatformSync(deps: {
  knex: Knex;
  clock: Clock;
  outbox: Outbox;
  control: ControlRepository;
  platforms: PlatformRepository;
  schedules: ScheduleRepository;
  jobs: JobRepository;
}) {
  async function status(platformId: string): Promise<PlatformSyncStatus> {
    const platform = await deps.platforms.get(platformId);
    if (!platform) throw new NotFoundError(`platform ${platformId} not found`);
    const now = deps.clock.now();
    const [taskRows, control, rows, lastJob, lastUpdate, audit] = await Promise.all([
      deps.schedules.taskConfigs(),
      deps.control.get(),
      deps.schedules.forPlatform(platformId),
      deps.jobs.latestFor(platformId, 'sync'),
      deps.jobs.lastFinishedAt(platformId, 'sync'),
      platform.syncEnabled ? [] : deps.control.auditLog(`platform:${platformId}`, 1),
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
    };
  }

  async function control(platformId: string, action: 'start' | 'stop', reason?: string) {
    const platform = await deps.platforms.get(platformId);
    if (!platform) throw new NotFoundError(`platform ${platformId} not found`);
    const now = deps.clock.now();
    const cancelled = await deps.knex.transaction(async (trx) => {
      await deps.platforms.setSyncEnabled(trx, platformId, action === 'start');
      await deps.control.audit(trx, now, {
        action: `sync.${action}`,
        target: `platform:${platformId}`,
        reason,
      });
      if (action === 'start') {
        await deps.schedules.setPaused(trx, platformId, null);
        return 0;
      }
      const why = `sync stopped for platform ${platform.name}${reason ? `: ${reason}` : ''}`;
      const ids = await deps.jobs.cancelQueued(trx, now, why, { platformIds: [platformId] });
      await writeChunked(
        deps.outbox,
        trx,
        ids.map((id) => cancelMessage(id, now, why)),
      );
      return ids.length;
    });
    if (cancelled > 0) deps.outbox.wake();
    return status(platformId);
  }

  return { status, control };
}

export type PlatformSync = ReturnType<typeof createPlatformSync>;
