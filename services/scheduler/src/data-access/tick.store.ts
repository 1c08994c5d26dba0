import type { Knex } from 'knex';
import type { Logger } from '@psc/telemetry';
import type { Outbox } from '@psc/messaging';
import type { ControlRepository } from './control.repository.ts';
import type { JobRepository } from './job.repository.ts';
import type { LeaseRepository } from './lease.repository.ts';
import type { PlatformRepository } from './platform.repository.ts';
import type { ScheduleRepository } from './schedule.repository.ts';
import type { BackfillStore } from './backfill.store.ts';
import type { CollectStop, CollectStopRepository } from './collect-stop.repository.ts';
import type { PlanChangeRepository } from './plan-change.repository.ts';
import { autoPausedMessage, cancelMessage, jobRunMessage } from '../domain/job-messages.ts';
import { CANCEL_BATCH, collectStopCancelReason, stopCancelReason } from '../domain/cancellation.ts';
import { planReason, planTick, type LastPlan, type PlanReason } from '../domain/tick-plan.ts';
import { scheduleKey } from './schedule.repository.ts';

export const LEASE_NAME = 'scheduler';

export interface TickSettings {
  replicaId: string;
  leaseMs: number;
  /** Fire times older than this (ms before now) count as missed: the misfire policy applies. */
  missGraceMs: number;
  retentionDays: number;
  purgeBatch: number;
}

export interface TickResult {
  leader: boolean;
  enqueued: number;
  cancelled: number;
  /** When the soonest schedule falls due next (the leader's plan); the loop may tick then. */
  wakeAt?: Date | undefined;
}

/** The tick's writes were refused: the lease was lost (expired, taken over) meanwhile. */
class LeaseLostError extends Error {
  override name = 'LeaseLostError';
}

const CANCEL_REASON = 'platform inactive, deleted or stopped';

/**
 * One scheduler tick: take or renew the lease; read what is scheduled and decide what is due
 * (planTick) with no transaction open, unless the leader's last plan still holds (nothing it
 * was made from changed, nothing due yet: `planReason`), so an idle leader does not read every
 * schedule every tick; then write it all in one short transaction that commits
 * only while this replica still holds the lease under the same fencing token. A replica frozen
 * in that transaction holds no lock on the lease (the token is checked, share-locked, just
 * before the commit) and PostgreSQL ends its session after a lease of idleness, so another
 * replica takes over within lease + a tick.
 */
export function createTickStore(deps: {
  knex: Knex;
  outbox: Outbox;
  leases: LeaseRepository;
  control: ControlRepository;
  platforms: PlatformRepository;
  schedules: ScheduleRepository;
  jobs: JobRepository;
  backfills: BackfillStore;
  collectStops: CollectStopRepository;
  planChanges: PlanChangeRepository;
  logger: Logger;
  settings: TickSettings;
  /** Told, per scheduled run emitted, how late it was: seconds after its (jittered) due time. */
  observeLag?: (seconds: number) => void;
  /** Told each time the leader plans from every schedule, and why. */
  countPlan?: (reason: PlanReason) => void;
}) {
  const { settings: s } = deps;
  let lastPurge = 0;
  /** This replica's last plan as leader, committed; kept while it still holds (planReason). */
  let lastPlan: LastPlan | undefined;

  async function purge(now: Date): Promise<void> {
    if (now.getTime() - lastPurge < 60_000) return;
    lastPurge = now.getTime();
    const before = new Date(now.getTime() - s.retentionDays * 86_400_000);
    let total = 0;
    for (;;) {
      const n = await deps.jobs.purgeFinished(before, s.purgeBatch);
      total += n;
      if (n < s.purgeBatch) break;
    }
    if (total > 0) deps.logger.info({ purged: total, before }, 'finished jobs purged');
  }

  /**
   * Stopped collectors' queued scheduled runs, a batch per reason: the stop cancelled its first
   * batch itself; this takes the rest, and any run a tick planned before the stop committed.
   */
  async function cancelStoppedCollects(
    trx: Knex.Transaction,
    stops: CollectStop[],
    now: Date,
  ): Promise<number> {
    const byReason = new Map<string, CollectStop[]>();
    for (const stop of stops) {
      const why = collectStopCancelReason(stop.reason);
      byReason.set(why, [...(byReason.get(why) ?? []), stop]);
    }
    let total = 0;
    for (const [why, resources] of byReason) {
      const jobs = await deps.jobs.cancelQueued(trx, now, why, {
        scheduled: { taskType: 'collect', resources },
        limit: CANCEL_BATCH,
      });
      await deps.outbox.write(
        trx,
        jobs.map((job) => cancelMessage(job, now, why)),
      );
      total += jobs.length;
    }
    return total;
  }

  /** Reads the rest of what a plan is made from, and plans (when the last plan no longer holds). */
  async function replan(now: Date, control: { resumed_at: Date | null }, stopped: Set<string>) {
    const [taskConfigs, schedules, openKeys, platforms] = await Promise.all([
      deps.schedules.taskConfigs(),
      deps.schedules.all(),
      deps.jobs.openKeys(),
      deps.platforms.listSchedulable(),
    ]);
    return planTick({ taskConfigs, schedules, openKeys, platforms, stopped }, now, {
      missGraceMs: s.missGraceMs,
      resumedAt: control.resumed_at,
    });
  }

  return async function tick(now: Date): Promise<TickResult> {
    const token = await deps.leases.acquire(LEASE_NAME, s.replicaId, now, s.leaseMs);
    if (token === null) {
      lastPlan = undefined;
      return { leader: false, enqueued: 0, cancelled: 0 };
    }
    // Before anything a plan is made from: a change that commits after this read is planned
    // again next tick, even if this tick's reads already see it.
    const changes = await deps.planChanges.pending();
    const [control, unschedulable, collectStops] = await Promise.all([
      deps.control.get(),
      deps.platforms.listUnschedulableIds(),
      deps.collectStops.list(),
    ]);
    const stopped = new Set(
      collectStops.map((c) => scheduleKey(c.platformId, c.resource, 'collect')),
    );
    const running = control.state === 'running';
    const reason = running ? planReason(lastPlan, { token, changes: changes.length, now }) : null;
    if (!running) lastPlan = undefined;
    const plan = reason ? await replan(now, control, stopped) : undefined;
    if (reason) deps.countPlan?.(reason);
    try {
      const result = await deps.knex.transaction(async (trx) => {
        const idleMs = Math.max(Math.ceil(s.leaseMs), 1_000);
        await trx.raw(`set local idle_in_transaction_session_timeout = ${idleMs}`);
        const cancelled =
          unschedulable.length > 0
            ? await deps.jobs.cancelQueued(trx, now, CANCEL_REASON, {
                platformIds: unschedulable,
                limit: CANCEL_BATCH,
              })
            : [];
        await deps.outbox.write(
          trx,
          cancelled.map((job) => cancelMessage(job, now, CANCEL_REASON)),
        );
        const collectCancelled = await cancelStoppedCollects(trx, collectStops, now);
        // Each cancellation above and below is one batch (CANCEL_BATCH) per tick: a stop
        // cancelled its first batch itself; the rest goes here, for as long as the stop holds
        // (after a restart too).
        let stopCancelled = 0;
        if (control.state === 'stopped') {
          // Under the switch's lock: a start that committed since the read above wins.
          const locked = await deps.control.lockForUpdate(trx);
          if (locked.state === 'stopped') {
            const why = stopCancelReason(locked.reason);
            const leftovers = await deps.jobs.cancelQueued(trx, now, why, {
              createdBefore: locked.changed_at,
              limit: CANCEL_BATCH,
            });
            await deps.outbox.write(
              trx,
              leftovers.map((job) => cancelMessage(job, now, why)),
            );
            stopCancelled = leftovers.length;
          }
        }
        let enqueued = 0;
        if (plan) {
          await deps.planChanges.consume(trx, changes);
          const inserted = await deps.jobs.insertScheduled(trx, plan.jobs, {
            replicaId: s.replicaId,
            fencingToken: token,
          });
          const messages = plan.jobs
            .filter((j) => inserted.has(j.id))
            .map((j) => jobRunMessage(j, now));
          await deps.outbox.write(trx, messages);
          for (const j of plan.jobs) {
            const dueAt = plan.dueAt.get(j.id);
            if (inserted.has(j.id) && dueAt) {
              deps.observeLag?.((now.getTime() - dueAt.getTime()) / 1000);
            }
          }
          await deps.schedules.upsertMany(trx, plan.upserts);
          await deps.schedules.deleteKeys(trx, plan.deletes);
          await deps.schedules.pauseMany(trx, plan.pauses);
          for (const p of plan.pauses) {
            await deps.control.audit(trx, now, {
              action: 'schedule.auto-pause',
              target: `schedule:${p.platform_id}/${p.resource}/${p.task_type}`,
              reason: p.reason,
            });
            const key = { platformId: p.platform_id, resource: p.resource, taskType: p.task_type };
            await deps.outbox.write(trx, [autoPausedMessage(key, p.reason, now)]);
            deps.logger.warn(
              {
                platformId: p.platform_id,
                resource: p.resource,
                taskType: p.task_type,
                reason: p.reason,
              },
              'schedule paused',
            );
          }
          enqueued = messages.length;
        }
        // Backfills run only while the scheduler runs, like schedules.
        if (running) {
          enqueued += await deps.backfills.topUp(trx, now, {
            replicaId: s.replicaId,
            fencingToken: token,
          });
        }
        await deps.control.update(trx, { last_tick_at: now });
        if (!(await deps.leases.holds(trx, LEASE_NAME, s.replicaId, token, now))) {
          throw new LeaseLostError();
        }
        return {
          leader: true,
          enqueued,
          cancelled: cancelled.length + collectCancelled + stopCancelled,
          wakeAt: (plan ? plan.wakeAt : lastPlan?.wakeAt) ?? undefined,
        };
      });
      if (plan) lastPlan = { token, madeAt: now, wakeAt: plan.wakeAt };
      await purge(now);
      return result;
    } catch (err) {
      // What the failed tick planned is not written: the next one plans again.
      lastPlan = undefined;
      if (err instanceof LeaseLostError) return { leader: false, enqueued: 0, cancelled: 0 };
      throw err;
    }
  };
}
