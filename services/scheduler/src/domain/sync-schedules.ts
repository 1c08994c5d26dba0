import type { ScheduleOverrides, TaskType } from '@psc/contracts';
import {
  applySpec,
  defaultSpec,
  effectiveSpec,
  nextFireTimes,
  type EffectiveSpec,
} from './schedule-spec.ts';

/** A resource's running sync schedule, as the stale-sync alert reads it. */
export interface SyncSchedule {
  platformId: string;
  resource: string;
  intervalSeconds: number;
  /** When the schedule last (re)started, as far as the scheduler's tables tell. */
  startedAt: Date;
}

/** Seconds between runs: the interval, or for a cron the longest gap of its next 10 fire times. */
function intervalSeconds(spec: EffectiveSpec, now: Date): number {
  if (spec.cron === null) return spec.intervalSeconds ?? 0;
  const times = nextFireTimes(spec, now, 11);
  let longest = 0;
  for (let i = 1; i < times.length; i += 1) {
    longest = Math.max(longest, times[i]!.getTime() - times[i - 1]!.getTime());
  }
  return longest / 1000;
}

/**
 * The sync schedules that run now: enabled for the resource, on a platform that is schedulable,
 * with neither the scheduler nor the sync task type paused by an operator. A schedule that paused
 * itself after failures still counts (it should go stale). `startedAt` is the latest of the
 * events that restart a schedule and leave a timestamp: the scheduler's resume or start, the sync
 * config's change, the platform's change (its schedule, resources or sync switch).
 */
export function runningSyncSchedules(
  input: {
    running: boolean;
    runningSince: Date;
    syncConfig:
      { spec: Parameters<typeof applySpec>[1]; paused: boolean; updatedAt: Date } | undefined;
    platforms: {
      id: string;
      updatedAt: Date;
      schedule: ScheduleOverrides | null;
      resources: { name: string; tasks: TaskType[]; schedule?: ScheduleOverrides | undefined }[];
    }[];
  },
  now: Date,
): SyncSchedule[] {
  if (!input.running || input.syncConfig?.paused) return [];
  const base = applySpec(defaultSpec('sync'), input.syncConfig?.spec);
  const out: SyncSchedule[] = [];
  for (const platform of input.platforms) {
    for (const resource of platform.resources) {
      if (!resource.tasks.includes('sync')) continue;
      const spec = effectiveSpec('sync', base, platform.schedule, resource.schedule);
      if (!spec.enabled) continue;
      const started = Math.max(
        input.runningSince.getTime(),
        input.syncConfig?.updatedAt.getTime() ?? 0,
        platform.updatedAt.getTime(),
      );
      out.push({
        platformId: platform.id,
        resource: resource.name,
        intervalSeconds: intervalSeconds(spec, now),
        startedAt: new Date(started),
      });
    }
  }
  return out;
}
