import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { TASK_TYPES, type Job, type TaskType } from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { Outbox } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { ControlRepository } from '../data-access/control.repository.ts';
import type { JobRepository } from '../data-access/job.repository.ts';
import type { LeaseRepository } from '../data-access/lease.repository.ts';
import type { PlatformRepository } from '../data-access/platform.repository.ts';
import {
  scheduleKey,
  type ScheduleRepository,
  type ScheduleRow,
} from '../data-access/schedule.repository.ts';
import { cancelMessage, jobRunMessage, writeChunked } from './job-messages.ts';
import {
  applySpec,
  defaultSpec,
  dueRuns,
  effectiveSpec,
  jitterMs,
  nextFireTimes,
  specKey,
  type EffectiveSpec,
} from './schedule-spec.ts';

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
}

type ScheduleUpsert = Omit<ScheduleRow, 'consecutive_failures' | 'paused_reason'>;

/**
 * One scheduler tick: take or renew the lease, then (as leader, in one transaction fenced by the
 * lease token) enqueue every due run with its job message and advance the schedules.
 */
export function createSchedulerTick(deps: {
  knex: Knex;
  clock: Clock;
  outbox: Outbox;
  leases: LeaseRepository;
  control: ControlRepository;
  platforms: PlatformRepository;
  schedules: ScheduleRepository;
  jobs: JobRepository;
  logger: Logger;
  settings: TickSettings;
}) {
  const { settings: s } = deps;
  let lastPurge = 0;

  async function emitDue(
    trx: Knex.Transaction,
    now: Date,
    resumedAt: Date | null,
    fencingToken: number,
  ) {
    const taskRows = new Map((await deps.schedules.taskConfigs(trx)).map((r) => [r.task_type, r]));
    const taskSpecs = new Map<TaskType, { spec: EffectiveSpec; paused: boolean }>(
      TASK_TYPES.map((t) => {
        const row = taskRows.get(t);
        return [t, { spec: applySpec(defaultSpec(t), row?.spec), paused: !!row?.paused_reason }];
      }),
    );
    const existing = new Map(
      (await deps.schedules.all(trx)).map((r) => [
        scheduleKey(r.platform_id, r.resource, r.task_type),
        r,
      ]),
    );
    const open = await deps.jobs.openKeys(trx);
    const keep = new Set<string>();
    const upserts: ScheduleUpsert[] = [];
    const batch: Job[] = [];

    for (const platform of await deps.platforms.listSchedulable(trx)) {
      for (const resource of platform.resources) {
        for (const taskType of resource.tasks) {
          const base = taskSpecs.get(taskType);
          if (!base) continue;
          const spec = effectiveSpec(taskType, base.spec, platform.schedule, resource.schedule);
          if (!spec.enabled) continue;
          const key = scheduleKey(platform.id, resource.name, taskType);
          keep.add(key);
          const row = existing.get(key);
          const identity = {
            platform_id: platform.id,
            resource: resource.name,
            task_type: taskType,
          };
          const sk = specKey(spec);
          if (!row || row.spec_key !== sk) {
            const [next] = nextFireTimes(spec, now, 1);
            if (next)
              upserts.push({
                ...identity,
                spec_key: sk,
                next_due_at: next,
                last_run_at: row?.last_run_at ?? null,
                auto_pause_after: spec.autoPauseAfterFailures,
              });
            continue;
          }
          if (row.paused_reason || base.paused) continue;
          const shifted = new Date(now.getTime() - jitterMs(spec, key));
          if (row.next_due_at > shifted) {
            if (row.auto_pause_after !== spec.autoPauseAfterFailures)
              upserts.push({ ...row, auto_pause_after: spec.autoPauseAfterFailures });
            continue;
          }
          // Grace counts from the jittered due time, so a jitter longer than the grace is not a
          // misfire (`skip` would otherwise drop every run).
          const missedBefore = new Date(
            Math.max(shifted.getTime() - s.missGraceMs, resumedAt ? resumedAt.getTime() : 0),
          );
          const due = dueRuns(spec, row.next_due_at, shifted, missedBefore);
          upserts.push({
            ...identity,
            spec_key: sk,
            next_due_at: due.next,
            last_run_at: due.runs.length > 0 ? now : row.last_run_at,
            auto_pause_after: spec.autoPauseAfterFailures,
          });
          // `skip`: one run at most, and none while an earlier one is queued or running.
          const runs =
            spec.overlap === 'skip' ? (open.has(key) ? [] : due.runs.slice(-1)) : due.runs;
          for (const at of runs) {
            batch.push({
              id: randomUUID(),
              platformId: platform.id,
              resource: resource.name,
              taskType,
              status: 'queued',
              priority: spec.priority ?? platform.priority,
              trigger: 'schedule',
              attempts: 0,
              params: {},
              stats: null,
              error: null,
              traceId: null,
              scheduledFor: at.toISOString(),
              createdAt: now.toISOString(),
              startedAt: null,
              finishedAt: null,
              updatedAt: now.toISOString(),
            });
          }
        }
      }
    }

    const inserted = await deps.jobs.insertScheduled(trx, batch, {
      replicaId: s.replicaId,
      fencingToken,
    });
    const messages = batch.filter((j) => inserted.has(j.id)).map((j) => jobRunMessage(j, now));
    await writeChunked(deps.outbox, trx, messages);
    await deps.schedules.upsertMany(trx, upserts);
    const gone = [...existing.keys()].filter((k) => !keep.has(k));
    if (gone.length > 0)
      await deps.schedules.deleteKeys(
        trx,
        gone.map((k) => existing.get(k)!),
      );
    return messages.length;
  }

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

  return async function tick(): Promise<TickResult> {
    const now = deps.clock.now();
    const token = await deps.leases.acquire(LEASE_NAME, s.replicaId, now, s.leaseMs);
    if (token === null) return { leader: false, enqueued: 0, cancelled: 0 };
    const result = await deps.knex.transaction(async (trx) => {
      // A leader frozen mid-transaction must not hold the lease row's lock forever; but a tick over
      // 10,000 schedules computes for seconds between two statements on a busy machine, and a
      // timeout as short as the lease killed every such tick, so nothing was ever emitted.
      const idleTimeoutMs = Math.max(Math.ceil(s.leaseMs) * 10, 30_000);
      await trx.raw(`SET LOCAL idle_in_transaction_session_timeout = ${idleTimeoutMs}`);
      if (!(await deps.leases.fence(trx, LEASE_NAME, s.replicaId, token, now, s.leaseMs)))
        return { leader: false, enqueued: 0, cancelled: 0 };
      const control = await deps.control.get(trx);
      await deps.control.update(trx, { last_tick_at: now });
      const gone = await deps.platforms.listUnschedulableIds(trx);
      const cancelled =
        gone.length > 0
          ? await deps.jobs.cancelQueued(trx, now, 'platform inactive, deleted or stopped', {
              platformIds: gone,
            })
          : [];
      await writeChunked(
        deps.outbox,
        trx,
        cancelled.map((id) => cancelMessage(id, now, 'platform inactive, deleted or stopped')),
      );
      const enqueued =
        control.state === 'running' ? await emitDue(trx, now, control.resumed_at, token) : 0;
      return { leader: true, enqueued, cancelled: cancelled.length };
    });
    if (result.enqueued + result.cancelled > 0) deps.outbox.wake();
    if (result.leader) await purge(now);
    return result;
  };
}
