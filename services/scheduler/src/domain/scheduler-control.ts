import {
  FINAL_JOB_STATUSES,
  LIVE_JOB_STATUSES,
  type SchedulerState,
  type SchedulerStatus,
} from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { ControlRepository } from '../data-access/control.repository.ts';
import type { ControlStore } from '../data-access/control.store.ts';
import type { DeadLetterRepository } from '../data-access/dead-letter.repository.ts';
import type { JobRepository } from '../data-access/job.repository.ts';
import type { LeaseRepository } from '../data-access/lease.repository.ts';
import type { PlatformRepository } from '../data-access/platform.repository.ts';
import type { ScheduleRepository } from '../data-access/schedule.repository.ts';
import { LEASE_NAME } from '../data-access/tick.store.ts';
import { stopCancelReason } from './cancellation.ts';

const HOUR_MS = 3_600_000;
/** Dead letters are counted up to this many: the status stays cheap however many pile up. */
export const DEAD_LETTER_COUNT_CAP = 10_000;

/** Every status of `statuses` with its count, 0 for those `counted` lacks. */
function countsOf<S extends string>(
  statuses: readonly S[],
  counted: Readonly<Record<string, number>>,
): Record<S, number> {
  return Object.fromEntries(statuses.map((s) => [s, counted[s] ?? 0])) as Record<S, number>;
}

export type ControlAction = 'pause' | 'resume' | 'stop' | 'start';

/**
 * What an action does to the switch: the new state and its reason, whether missed runs now
 * count from this moment (a resume), and whether queued jobs are cancelled (a stop).
 */
function controlChange(current: SchedulerState, action: ControlAction, reason?: string) {
  const state: SchedulerState =
    action === 'pause' ? 'paused' : action === 'stop' ? 'stopped' : 'running';
  return {
    state,
    reason: state === 'running' ? null : (reason ?? null),
    resumed: state === 'running' && current !== 'running',
    cancel: action === 'stop' ? stopCancelReason(reason ?? null) : null,
    audit: { action, reason },
  };
}

/**
 * The scheduler-wide switch. `pause` stops emitting and keeps all state; `stop` also cancels
 * queued jobs (the first CANCEL_BATCH with the stop, the rest by the next ticks); `resume` and `start` run again, and runs missed meanwhile follow `misfire`.
 * Every action is audited with its reason.
 */
export function createSchedulerControl(deps: {
  clock: Clock;
  store: ControlStore;
  control: ControlRepository;
  leases: LeaseRepository;
  jobs: JobRepository;
  deadLetters: Pick<DeadLetterRepository, 'countUpTo'>;
  platforms: PlatformRepository;
  schedules: ScheduleRepository;
}) {
  async function status(): Promise<SchedulerStatus> {
    const now = deps.clock.now();
    const [control, lease, platforms, schedules, jobs, deadLetters] = await Promise.all([
      deps.control.get(),
      deps.leases.current(LEASE_NAME),
      deps.platforms.counts(),
      deps.schedules.counts(),
      deps.jobs.countByStatus(new Date(now.getTime() - HOUR_MS)),
      deps.deadLetters.countUpTo(DEAD_LETTER_COUNT_CAP + 1),
    ]);
    return {
      state: control.state,
      reason: control.reason,
      changedAt: control.changed_at.toISOString(),
      leader:
        lease && lease.expiresAt > now
          ? {
              id: lease.holder,
              fencingToken: lease.token,
              leaseExpiresAt: lease.expiresAt.toISOString(),
            }
          : null,
      lastTickAt: control.last_tick_at?.toISOString() ?? null,
      counts: {
        platforms: platforms.platforms,
        activePlatforms: platforms.active,
        schedules: schedules.schedules,
        pausedSchedules: schedules.paused,
        jobs: countsOf(LIVE_JOB_STATUSES, jobs),
        finishedLastHour: countsOf(FINAL_JOB_STATUSES, jobs),
        deadLetters: {
          count: Math.min(deadLetters, DEAD_LETTER_COUNT_CAP),
          atLeast: deadLetters > DEAD_LETTER_COUNT_CAP,
        },
      },
    };
  }

  async function apply(action: ControlAction, reason?: string): Promise<SchedulerStatus> {
    await deps.store.setSchedulerState(
      (current) => controlChange(current, action, reason),
      deps.clock.now(),
    );
    return status();
  }

  return { status, apply };
}

export type SchedulerControl = ReturnType<typeof createSchedulerControl>;
