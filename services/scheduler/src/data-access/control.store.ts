import type { Knex } from 'knex';
import type { ScheduleSpec, SchedulerState, TaskType } from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { Outbox } from '@psc/messaging';
import type { CollectStopRepository } from './collect-stop.repository.ts';
import type { ControlRepository } from './control.repository.ts';
import type { JobRepository } from './job.repository.ts';
import type { PlatformRepository } from './platform.repository.ts';
import type { ScheduleRepository } from './schedule.repository.ts';
import { cancelMessage } from '../domain/job-messages.ts';
import { CANCEL_BATCH } from '../domain/cancellation.ts';
import { lockSwitchesForStop } from './switch-lock.ts';

/**
 * The operators' switches, each one transaction with its audit entry and, where it cancels
 * queued jobs, their `job.cancel-requested` messages.
 */
export function createControlStore(deps: {
  knex: Knex;
  clock: Clock;
  outbox: Outbox;
  control: ControlRepository;
  platforms: PlatformRepository;
  schedules: ScheduleRepository;
  jobs: JobRepository;
  collectStops: CollectStopRepository;
}) {
  async function cancelQueued(
    trx: Knex.Transaction,
    now: Date,
    why: string,
    filter: Parameters<JobRepository['cancelQueued']>[3] = {},
  ): Promise<void> {
    const jobs = await deps.jobs.cancelQueued(trx, now, why, filter);
    await deps.outbox.write(
      trx,
      jobs.map((job) => cancelMessage(job, now, why)),
    );
  }

  return {
    /**
     * Moves the scheduler-wide switch to `state` (`resumedAt` marks runs due before it as
     * missed); `cancel` cancels every queued job with that reason.
     */
    async setSchedulerState(
      change: (current: SchedulerState) => {
        state: SchedulerState;
        reason: string | null;
        resumed: boolean;
        cancel: string | null;
        audit: { action: string; reason: string | undefined };
      },
      now: Date,
    ): Promise<void> {
      await deps.knex.transaction(async (trx) => {
        await lockSwitchesForStop(trx);
        const current = await deps.control.lockForUpdate(trx);
        const next = change(current.state);
        await deps.control.update(trx, {
          state: next.state,
          reason: next.reason,
          changed_at: now,
          ...(next.resumed ? { resumed_at: now } : {}),
        });
        await deps.control.audit(trx, now, {
          action: next.audit.action,
          target: 'scheduler',
          reason: next.audit.reason,
          detail: { from: current.state, to: next.state },
        });
        // The first batch only: the answer must not wait for a backlog of any size (30,000
        // queued jobs took longer than the gateway waits). The tick cancels the rest, a batch
        // at a time, while the scheduler stays stopped.
        if (next.cancel) {
          await cancelQueued(trx, now, next.cancel, {
            createdBefore: now,
            limit: CANCEL_BATCH,
          });
        }
      });
    },

    /** Seed 004's per-platform start/stop; stop cancels the platform's queued jobs. */
    async setPlatformSync(
      platformId: string,
      enabled: boolean,
      audit: { action: string; reason: string | undefined },
      cancelWhy: string,
      now: Date,
    ): Promise<void> {
      await deps.knex.transaction(async (trx) => {
        if (!enabled) await lockSwitchesForStop(trx);
        await deps.platforms.setSyncEnabled(trx, platformId, enabled);
        await deps.control.audit(trx, now, {
          action: audit.action,
          target: `platform:${platformId}`,
          reason: audit.reason,
        });
        if (enabled) await deps.schedules.setPaused(trx, platformId, null);
        // The first batch only, as a scheduler stop does: the tick cancels the rest (the
        // platform is sync-stopped, so its queued jobs are the tick's to cancel).
        else
          await cancelQueued(trx, now, cancelWhy, {
            platformIds: [platformId],
            limit: CANCEL_BATCH,
          });
      });
    },

    /**
     * Stops (`stop`) or starts (null) one collector's schedule, audited; a stop cancels its
     * queued scheduled runs, the first batch here and the rest by the ticks, as a platform
     * stop does. Runs made by run-now stay. A stop's time is read once it holds the switches'
     * lock: every scheduled run written before the stop was queued before that time (a
     * collector handing over its own stop after an upgrade skips those by it).
     */
    async setCollectSchedule(
      key: { platformId: string; resource: string },
      stop: { reason: string | null; cancelWhy: string } | null,
      audit: { action: string; reason: string | undefined },
    ): Promise<void> {
      await deps.knex.transaction(async (trx) => {
        if (stop) await lockSwitchesForStop(trx);
        const now = deps.clock.now();
        if (stop) {
          await deps.collectStops.stop(trx, { ...key, reason: stop.reason, stoppedAt: now });
          await cancelQueued(trx, now, stop.cancelWhy, {
            scheduled: { taskType: 'collect', resources: [key] },
            limit: CANCEL_BATCH,
          });
        } else {
          await deps.collectStops.start(trx, key.platformId, key.resource);
        }
        await deps.control.audit(trx, now, {
          action: audit.action,
          target: `collector:${key.platformId}/${key.resource}`,
          reason: audit.reason,
        });
      });
    },

    /** Pauses (`reason`) or resumes (null) one task type's schedules, audited. */
    async setTaskTypePaused(
      taskType: TaskType,
      defaultSpec: ScheduleSpec,
      reason: string | null,
      audit: { action: string; reason: string | undefined },
      now: Date,
    ): Promise<void> {
      await deps.knex.transaction(async (trx) => {
        await deps.schedules.setTaskTypePaused(trx, taskType, defaultSpec, reason, now);
        await deps.control.audit(trx, now, {
          action: audit.action,
          target: `config:${taskType}`,
          reason: audit.reason,
        });
      });
    },

    /** Replaces task types' configs, each audited. */
    async putTaskConfigs(entries: [TaskType, ScheduleSpec][], now: Date): Promise<void> {
      await deps.knex.transaction(async (trx) => {
        for (const [taskType, spec] of entries) {
          await deps.schedules.putTaskConfig(trx, taskType, spec, now);
          await deps.control.audit(trx, now, {
            action: 'config',
            target: `config:${taskType}`,
            detail: spec,
          });
        }
      });
    },
  };
}

export type ControlStore = ReturnType<typeof createControlStore>;
