import {
  TASK_TYPES,
  scheduleSpec,
  type ScheduleSpec,
  type TaskConfig,
  type TaskType,
} from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { ControlStore } from '../data-access/control.store.ts';
import type { ScheduleRepository, TaskConfigRow } from '../data-access/schedule.repository.ts';
import { applySpec, assertValidSpec, defaultSpec, nextFireTimes } from './schedule-spec.ts';

/** Per task type configs: read with their next fire times, replaced whole, audited. */
export function createTaskConfigs(deps: {
  clock: Clock;
  schedules: ScheduleRepository;
  store: ControlStore;
}) {
  function view(
    taskType: TaskType,
    row: TaskConfigRow | undefined,
    times: { lastRunAt: Date | null; nextDueAt: Date | null } | undefined,
    now: Date,
  ): TaskConfig {
    const spec = applySpec(defaultSpec(taskType), row?.spec);
    const next = nextFireTimes(spec, now, 5);
    return {
      taskType,
      ...spec,
      lastRunAt: times?.lastRunAt?.toISOString() ?? null,
      pausedReason: row?.paused_reason ?? null,
      nextRunAt:
        spec.enabled && !row?.paused_reason
          ? ((times?.nextDueAt ?? next[0])?.toISOString() ?? null)
          : null,
      nextFireTimes: next.map((d) => d.toISOString()),
      updatedAt: (row?.updated_at ?? new Date(0)).toISOString(),
    };
  }

  async function list(only?: readonly TaskType[]): Promise<TaskConfig[]> {
    const [rows, times] = await Promise.all([
      deps.schedules.taskConfigs(),
      deps.schedules.taskTypeTimes(),
    ]);
    const byType = new Map(rows.map((r) => [r.task_type, r]));
    const now = deps.clock.now();
    return (only ?? TASK_TYPES).map((t) => view(t, byType.get(t), times.get(t), now));
  }

  async function put(
    configs: Partial<Record<TaskType, ScheduleSpec>>,
    pathOf: (t: TaskType) => string,
  ) {
    const now = deps.clock.now();
    const entries = Object.entries(configs) as [TaskType, ScheduleSpec][];
    for (const [taskType, spec] of entries) assertValidSpec(spec, pathOf(taskType), now);
    await deps.store.putTaskConfigs(entries, now);
    return list(entries.map(([t]) => t));
  }

  return {
    list: () => list(),
    async get(taskType: TaskType): Promise<TaskConfig> {
      const [config] = await list([taskType]);
      return config!;
    },
    async put(taskType: TaskType, spec: ScheduleSpec): Promise<TaskConfig> {
      const [config] = await put({ [taskType]: spec }, () => 'body');
      return config!;
    },
    putMany: (configs: Partial<Record<TaskType, ScheduleSpec>>) => put(configs, (t) => `body.${t}`),
    /** Pauses a task type with a reason (its schedules emit nothing), or resumes it. */
    async pause(
      taskType: TaskType,
      action: 'pause' | 'resume',
      reason?: string,
    ): Promise<TaskConfig> {
      await deps.store.setTaskTypePaused(
        taskType,
        scheduleSpec.parse({}),
        action === 'pause' ? (reason ?? 'paused by an operator') : null,
        { action: `config.${action}`, reason },
        deps.clock.now(),
      );
      const [config] = await list([taskType]);
      return config!;
    },
  };
}

export type TaskConfigs = ReturnType<typeof createTaskConfigs>;
