import { randomUUID } from 'node:crypto';
import { TASK_TYPES, type Job, type TaskType } from '@psc/contracts';
import { ValidationError } from '@psc/core';
import type { PlatformView } from '../data-access/platform.repository.ts';
import {
  scheduleKey,
  type ScheduleRow,
  type TaskConfigRow,
} from '../data-access/schedule.repository.ts';
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
import { missingCollectParams } from './collect-params.ts';
import { renderParams } from './params-template.ts';
import { newTraceId } from './trace-id.ts';

type ScheduleUpsert = Omit<ScheduleRow, 'consecutive_failures' | 'paused_reason'>;

/** What a tick reads before it decides anything. */
export interface TickSnapshot {
  taskConfigs: TaskConfigRow[];
  schedules: ScheduleRow[];
  /** (platform, resource, task) keys with a job queued or running (`overlap: skip`). */
  openKeys: Set<string>;
  platforms: PlatformView[];
  /**
   * (platform, resource, task) keys an operator stopped (a collector's schedule): like the
   * schedules of a stopped platform they make no run, and their state goes until started.
   */
  stopped: ReadonlySet<string>;
}

/** What a tick writes: the runs due now, and where each schedule stands next. */
export interface TickPlan {
  jobs: Job[];
  upserts: ScheduleUpsert[];
  deletes: ScheduleRow[];
  /** Schedules whose runs cannot be made (a params template that does not render), with why. */
  pauses: { platform_id: string; resource: string; task_type: TaskType; reason: string }[];
  /** When each run of `jobs` was due: its fire time plus its schedule's jitter (schedule lag). */
  dueAt: Map<string, Date>;
  /**
   * Keys due with `overlap: skip`: whether each had a job open decided its run. A plan made
   * ahead of its instant still holds there only if each is open, or not, as it was.
   */
  overlapKeys: string[];
  /**
   * The soonest moment a schedule this plan keeps falls due next (its next fire time plus its
   * jitter); null when none will. The tick loop wakes then when it comes before its next
   * interval, so a run starts at its time rather than up to a tick later.
   */
  wakeAt: Date | null;
}

/**
 * Decides a tick: for each active platform × resource × task not stopped, merges the task type's config ←
 * platform schedule ← resource schedule; a new or changed schedule starts at its next fire time;
 * a due one yields its fire times up to now (minus its jitter). Fire times older than the grace
 * (or than the last resume) were missed: `misfire` says whether one of them still runs;
 * `overlap: skip` makes at most one run, and none while one is open.
 */
export function planTick(
  snapshot: TickSnapshot,
  now: Date,
  settings: { missGraceMs: number; resumedAt: Date | null },
): TickPlan {
  const taskRows = new Map(snapshot.taskConfigs.map((r) => [r.task_type, r]));
  const taskSpecs = new Map<TaskType, { spec: EffectiveSpec; paused: boolean }>(
    TASK_TYPES.map((t) => {
      const row = taskRows.get(t);
      return [t, { spec: applySpec(defaultSpec(t), row?.spec), paused: !!row?.paused_reason }];
    }),
  );
  const existing = new Map(
    snapshot.schedules.map((r) => [scheduleKey(r.platform_id, r.resource, r.task_type), r]),
  );
  const keep = new Set<string>();
  const plan: TickPlan = {
    jobs: [],
    upserts: [],
    deletes: [],
    pauses: [],
    dueAt: new Map(),
    overlapKeys: [],
    wakeAt: null,
  };
  const wakeAt = (next: Date, spec: EffectiveSpec, key: string): void => {
    const at = next.getTime() + jitterMs(spec, key);
    if (plan.wakeAt === null || at < plan.wakeAt.getTime()) plan.wakeAt = new Date(at);
  };

  for (const platform of snapshot.platforms) {
    for (const resource of platform.resources) {
      for (const taskType of resource.tasks) {
        const base = taskSpecs.get(taskType);
        if (!base) continue;
        const spec = effectiveSpec(taskType, base.spec, platform.schedule, resource.schedule);
        if (!spec.enabled) continue;
        const key = scheduleKey(platform.id, resource.name, taskType);
        if (snapshot.stopped.has(key)) continue;
        keep.add(key);
        const row = existing.get(key);
        const identity = { platform_id: platform.id, resource: resource.name, task_type: taskType };
        const sk = specKey(spec);
        if (!row || row.spec_key !== sk) {
          const [next] = nextFireTimes(spec, now, 1);
          if (next) {
            plan.upserts.push({
              ...identity,
              spec_key: sk,
              next_due_at: next,
              last_run_at: row?.last_run_at ?? null,
              auto_pause_after: spec.autoPauseAfterFailures,
            });
            if (!row?.paused_reason && !base.paused) wakeAt(next, spec, key);
          }
          continue;
        }
        if (row.paused_reason || base.paused) continue;
        const shifted = new Date(now.getTime() - jitterMs(spec, key));
        if (row.next_due_at > shifted) {
          if (row.auto_pause_after !== spec.autoPauseAfterFailures)
            plan.upserts.push({ ...row, auto_pause_after: spec.autoPauseAfterFailures });
          wakeAt(row.next_due_at, spec, key);
          continue;
        }
        // Grace counts from the jittered due time, so a jitter longer than the grace is not a
        // misfire (`skip` would otherwise drop every run).
        const missedBefore = new Date(
          Math.max(
            shifted.getTime() - settings.missGraceMs,
            settings.resumedAt ? settings.resumedAt.getTime() : 0,
          ),
        );
        const due = dueRuns(spec, row.next_due_at, shifted, missedBefore);
        plan.upserts.push({
          ...identity,
          spec_key: sk,
          next_due_at: due.next,
          last_run_at: due.runs.length > 0 ? now : row.last_run_at,
          auto_pause_after: spec.autoPauseAfterFailures,
        });
        wakeAt(due.next, spec, key);
        if (spec.overlap === 'skip') plan.overlapKeys.push(key);
        const runs =
          spec.overlap === 'skip'
            ? snapshot.openKeys.has(key)
              ? []
              : due.runs.slice(-1)
            : due.runs;
        let params: Record<string, unknown>[];
        try {
          params = runs.map((at) =>
            spec.params
              ? renderParams(spec.params, { date: at, now, timezone: spec.timezone })
              : {},
          );
        } catch (err) {
          // A platform's template is only checked here: its schedule stops, with the reason.
          if (!(err instanceof ValidationError)) throw err;
          plan.pauses.push({ ...identity, reason: `params template: ${err.message}` });
          continue;
        }
        // Runs without a param their collect resource declares could only fail: none is made.
        const lacking = missingCollectParams(taskType, resource, params[0] ?? {});
        if (runs.length > 0 && lacking.length > 0) {
          plan.pauses.push({
            ...identity,
            reason: `collect run needs params: ${lacking.join(', ')}; give them in the schedule's params`,
          });
          continue;
        }
        const jitter = now.getTime() - shifted.getTime();
        for (const [i, at] of runs.entries()) {
          const id = randomUUID();
          plan.dueAt.set(id, new Date(at.getTime() + jitter));
          plan.jobs.push({
            id,
            platformId: platform.id,
            resource: resource.name,
            taskType,
            status: 'queued',
            priority: spec.priority ?? platform.priority,
            trigger: 'schedule',
            attempts: 0,
            run: 1,
            params: params[i] ?? {},
            stats: null,
            error: null,
            nextAttemptAt: null,
            // Scheduled runs start their own trace: the id correlates the job's log lines.
            traceId: newTraceId(),
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
  plan.deletes = [...existing.entries()].filter(([k]) => !keep.has(k)).map(([, row]) => row);
  return plan;
}

/**
 * Why the leader reads every schedule and plans again, rather than keep its last plan; `ahead`:
 * the plan of a due time, made before it (a tick that finds it still holds makes none).
 */
export type PlanReason = 'leader' | 'changed' | 'due' | 'refresh' | 'ahead';

/** The leader's last plan, as far as deciding on the next one needs it. */
export interface LastPlan {
  /** The lease's fencing token it was made under: another term, another plan. */
  token: number;
  madeAt: Date;
  wakeAt: Date | null;
}

/**
 * A plan at least this often even when nothing says so: it bounds what a change no trigger
 * notes (a table edited by hand) can be late by, at a sixtieth of planning every tick.
 */
const PLAN_REFRESH_MS = 60_000;

/**
 * Whether this tick must plan again, and why; null when the last plan still holds: the same
 * term, nothing it was made from changed since, and nothing is due before its `wakeAt`. Such a
 * plan would emit no run and move no schedule, so the tick need not read every schedule to
 * make it.
 */
export function planReason(
  last: LastPlan | undefined,
  tick: { token: number; changes: number; now: Date },
): PlanReason | null {
  if (!last || last.token !== tick.token) return 'leader';
  if (tick.changes > 0) return 'changed';
  if (last.wakeAt !== null && tick.now.getTime() >= last.wakeAt.getTime()) return 'due';
  if (tick.now.getTime() - last.madeAt.getTime() >= PLAN_REFRESH_MS) return 'refresh';
  return null;
}
