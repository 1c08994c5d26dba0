import type { Knex } from 'knex';
import type { SchedulerStatus } from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { Outbox } from '@psc/messaging';
import type { ControlRepository } from '../data-access/control.repository.ts';
import type { JobRepository } from '../data-access/job.repository.ts';
import type { LeaseRepository } from '../data-access/lease.repository.ts';
import type { PlatformRepository } from '../data-access/platform.repository.ts';
import type { ScheduleRepository } from '../data-access/schedule.repository.ts';
import { cancelMessage, writeChunked } from './job-messages.ts';
import { LEASE_NAME } from './scheduler-tick.ts';

export type ControlAction = 'pause' | 'resume' | 'stop' | 'start';

/**
 * The scheduler-wide switch. `pause` stops emitting and keeps all state; `stop` also cancels
 * queued jobs; `resume` and `start` run again, and runs missed meanwhile follow `misfire`.
 * Every action is audited with its reason.
 */
export function createSchedulerControl(deps: {
  knex: Knex;
  clock: Clock;
  outbox: Outbox;
  control: ControlRepository;
  leases: LeaseRepository;
  jobs: JobRepository;
  platforms: PlatformRepository;
  schedules: ScheduleRepository;
}) {
  async function status(): Promise<SchedulerStatus> {
    const [control, lease, platforms, schedules, jobs] = await Promise.all([
      deps.control.get(),
      deps.leases.current(LEASE_NAME),
      deps.platforms.counts(),
      deps.schedules.counts(),
      deps.jobs.countByStatus(),
    ]);
    const now = deps.clock.now();
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
        jobs,
      },
    };
  }

  async function apply(action: ControlAction, reason?: string): Promise<SchedulerStatus> {
    const now = deps.clock.now();
    const cancelled = await deps.knex.transaction(async (trx) => {
      const current = await deps.control.lockForUpdate(trx);
      const state = action === 'pause' ? 'paused' : action === 'stop' ? 'stopped' : 'running';
      const wasRunning = current.state === 'running';
      await deps.control.update(trx, {
        state,
        reason: state === 'running' ? null : (reason ?? null),
        changed_at: now,
        ...(state === 'running' && !wasRunning ? { resumed_at: now } : {}),
      });
      await deps.control.audit(trx, now, {
        action,
        target: 'scheduler',
        reason,
        detail: { from: current.state, to: state },
      });
      if (action === 'stop') {
        const ids = await deps.jobs.cancelQueued(
          trx,
          now,
          `scheduler stopped${reason ? `: ${reason}` : ''}`,
        );
        await writeChunked(
          deps.outbox,
          trx,
          ids.map((id) => cancelMessage(id, now, reason ?? 'scheduler stopped')),
        );
        return ids.length;
      }
      return 0;
    });
    if (cancelled > 0) deps.outbox.wake();
    return status();
  }

  return { status, apply };
}

export type SchedulerControl = ReturnType<typeof createSchedulerControl>;
