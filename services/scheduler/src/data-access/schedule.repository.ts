import type { Knex } from 'knex';
import type { ScheduleSpec, TaskType } from '@psc/contracts';

export interface ScheduleRow {
  platform_id: string;
  resource: string;
  task_type: TaskType;
  spec_key: string;
  next_due_at: Date;
  last_run_at: Date | null;
  auto_pause_after: number | null;
  consecutive_failures: number;
  paused_reason: string | null;
}

export interface TaskConfigRow {
  task_type: TaskType;
  spec: ScheduleSpec;
  paused_reason: string | null;
  updated_at: Date;
}

export const scheduleKey = (platformId: string, resource: string, taskType: string): string =>
  `${platformId}\u0000${resource}\u0000${taskType}`;

/** Schedules per statement of {@link UPSERT_SCHEDULES}. */
const UPSERT_CHUNK = 5_000;

/** A tick's schedule rows: new ones inserted, known ones given their new timing. */
const UPSERT_SCHEDULES = `insert into ??.schedules
    (platform_id, resource, task_type, spec_key, next_due_at, last_run_at, auto_pause_after)
  select * from jsonb_to_recordset(?::jsonb) as s(platform_id uuid, resource text,
    task_type text, spec_key text, next_due_at timestamptz, last_run_at timestamptz,
    auto_pause_after integer)
  on conflict (platform_id, resource, task_type) do update set
    spec_key = excluded.spec_key, next_due_at = excluded.next_due_at,
    last_run_at = excluded.last_run_at, auto_pause_after = excluded.auto_pause_after`;

/** Task-type configs and the per-(platform, resource, task) schedule state. */
export function createScheduleRepository(knex: Knex, schema: string) {
  const table = (name: string, q: Knex | Knex.Transaction = knex) =>
    q.withSchema(schema).table(name);

  return {
    async taskConfigs(q: Knex | Knex.Transaction = knex): Promise<TaskConfigRow[]> {
      return (await table('task_configs', q)) as TaskConfigRow[];
    },

    async putTaskConfig(
      trx: Knex.Transaction,
      taskType: TaskType,
      spec: ScheduleSpec,
      at: Date,
    ): Promise<void> {
      await table('task_configs', trx)
        .insert({
          task_type: taskType,
          spec: JSON.stringify(spec),
          paused_reason: null,
          updated_at: at,
        })
        .onConflict('task_type')
        // A new config keeps an operator's pause: only resume lifts it.
        .merge(['spec', 'updated_at']);
    },

    /** Pauses (`reason`) or resumes (null) a task type; one without a config gets the default. */
    async setTaskTypePaused(
      trx: Knex.Transaction,
      taskType: TaskType,
      spec: ScheduleSpec,
      reason: string | null,
      at: Date,
    ): Promise<void> {
      await table('task_configs', trx)
        .insert({
          task_type: taskType,
          spec: JSON.stringify(spec),
          paused_reason: reason,
          updated_at: at,
        })
        .onConflict('task_type')
        .merge(['paused_reason', 'updated_at']);
    },

    async all(q: Knex | Knex.Transaction = knex): Promise<ScheduleRow[]> {
      return (await table('schedules', q)) as ScheduleRow[];
    },

    /** A page of schedules in key order, after `after`. */
    async page(
      filter: {
        platformId?: string | undefined;
        taskType?: TaskType | undefined;
        after?: { platformId: string; resource: string; taskType: string } | undefined;
      },
      limit: number,
    ): Promise<ScheduleRow[]> {
      const query = table('schedules');
      const { after, taskType } = filter;
      if (filter.platformId) query.where('platform_id', filter.platformId);
      if (taskType) query.where('task_type', taskType);
      if (after && taskType) {
        // One task type's key is (platform, resource): compared so, the walk starts at the cursor
        // in schedules_task_type's order. Its own row comes after a cursor of an earlier type.
        const op = taskType > after.taskType ? '>=' : '>';
        query.whereRaw(`(platform_id, resource) ${op} (?, ?)`, [after.platformId, after.resource]);
      } else if (after)
        query.whereRaw('(platform_id, resource, task_type) > (?, ?, ?)', [
          after.platformId,
          after.resource,
          after.taskType,
        ]);
      return (await query
        .orderBy(['platform_id', 'resource', 'task_type'])
        .limit(limit)) as ScheduleRow[];
    },

    async forPlatform(platformId: string): Promise<ScheduleRow[]> {
      return (await table('schedules').where({ platform_id: platformId })) as ScheduleRow[];
    },

    /**
     * Writes the schedules a tick advanced, from one JSON document per 5,000 (a tick of 10,000
     * due schedules spent 240 ms building and parsing multi-row inserts of 14,000 parameters).
     */
    async upsertMany(
      trx: Knex.Transaction,
      rows: Omit<ScheduleRow, 'consecutive_failures' | 'paused_reason'>[],
    ): Promise<void> {
      for (let i = 0; i < rows.length; i += UPSERT_CHUNK) {
        const chunk = rows.slice(i, i + UPSERT_CHUNK).map((r) => ({
          platform_id: r.platform_id,
          resource: r.resource,
          task_type: r.task_type,
          spec_key: r.spec_key,
          next_due_at: r.next_due_at,
          last_run_at: r.last_run_at,
          auto_pause_after: r.auto_pause_after,
        }));
        await trx.raw(UPSERT_SCHEDULES, [schema, JSON.stringify(chunk)]);
      }
    },

    /** Drops schedules of platforms or resources that are gone or no longer scheduled. */
    async deleteKeys(trx: Knex.Transaction, rows: ScheduleRow[]): Promise<void> {
      for (const r of rows) {
        await table('schedules', trx)
          .where({ platform_id: r.platform_id, resource: r.resource, task_type: r.task_type })
          .delete();
      }
    },

    /**
     * Counts a scheduled run's outcome: success resets the streak, a failure extends it and
     * pauses the schedule once it reaches its `autoPauseAfterFailures`. Returns the pause reason
     * when this outcome paused it.
     */
    async recordOutcome(
      trx: Knex.Transaction,
      key: { platformId: string; resource: string; taskType: string },
      failed: boolean,
    ): Promise<string | null> {
      const where = {
        platform_id: key.platformId,
        resource: key.resource,
        task_type: key.taskType,
      };
      const row = (await table('schedules', trx).where(where).forUpdate().first()) as
        ScheduleRow | undefined;
      if (!row) return null;
      if (!failed) {
        await table('schedules', trx).where(where).update({ consecutive_failures: 0 });
        return null;
      }
      const failures = row.consecutive_failures + 1;
      const limit = row.auto_pause_after;
      const pause =
        limit !== null && failures >= limit && row.paused_reason === null
          ? `paused after ${failures} failed runs in a row`
          : null;
      await table('schedules', trx)
        .where(where)
        .update({ consecutive_failures: failures, ...(pause ? { paused_reason: pause } : {}) });
      return pause;
    },

    /** Pauses single schedules with a reason (their runs cannot be made). */
    async pauseMany(
      trx: Knex.Transaction,
      rows: { platform_id: string; resource: string; task_type: string; reason: string }[],
    ): Promise<void> {
      for (const r of rows) {
        await table('schedules', trx)
          .where({ platform_id: r.platform_id, resource: r.resource, task_type: r.task_type })
          .update({ paused_reason: r.reason });
      }
    },

    async setPaused(
      q: Knex | Knex.Transaction,
      platformId: string,
      reason: string | null,
    ): Promise<void> {
      await table('schedules', q)
        .where({ platform_id: platformId })
        .update({ paused_reason: reason, ...(reason === null ? { consecutive_failures: 0 } : {}) });
    },

    /** Per task type: the latest run and the next due time of its schedules not paused. */
    async taskTypeTimes(): Promise<
      Map<string, { lastRunAt: Date | null; nextDueAt: Date | null }>
    > {
      const rows: { task_type: string; last: Date | null; next: Date | null }[] = await table(
        'schedules',
      )
        .whereNull('paused_reason')
        .select('task_type')
        .max('last_run_at as last')
        .min('next_due_at as next')
        .groupBy('task_type');
      return new Map(rows.map((r) => [r.task_type, { lastRunAt: r.last, nextDueAt: r.next }]));
    },

    async counts(): Promise<{ schedules: number; paused: number }> {
      return (await table('schedules')
        .select(
          knex.raw('count(*)::int as schedules'),
          knex.raw('count(*) filter (where paused_reason is not null)::int as paused'),
        )
        .first()) as { schedules: number; paused: number };
    },
  };
}

export type ScheduleRepository = ReturnType<typeof createScheduleRepository>;

/** Per task type: the latest run and the earliest next due time over all its schedules. */
