import type { Knex } from 'knex';
import type { PlatformSummary, ScheduleOverrides, TaskType } from '@psc/contracts';
import { runPrepared, type PreparedStatement } from '@psc/db';

export interface PlatformView {
  id: string;
  name: string;
  active: boolean;
  syncEnabled: boolean;
  priority: number;
  version: number;
  /** The projection's own: one more at each change applied (a job insert checks it). */
  revision: number;
  baseUrl: string | null;
  schedule: ScheduleOverrides | null;
  resources: {
    name: string;
    tasks: TaskType[];
    schedule?: ScheduleOverrides | undefined;
    /** Params a collect run must be given (absent when none, or heard from an older registry). */
    params?: string[] | undefined;
  }[];
}

interface PlatformRow {
  id: string;
  name: string;
  active: boolean;
  deleted: boolean;
  sync_enabled: boolean;
  priority: number;
  version: number;
  revision: number;
  base_url: string | null;
  schedule: ScheduleOverrides | null;
  resources: PlatformView['resources'];
}

/** Platforms a batch of run-now requests names: prepared, one parse per connection. */
const PLATFORMS_BY_IDS: PreparedStatement = {
  name: 'scheduler.platforms.by-ids',
  text: `select id, name, active, deleted, sync_enabled, priority, version, revision, base_url,
                schedule, resources
           from scheduler.platforms where id = any($1::uuid[]) and not deleted`,
};

const toView = (r: PlatformRow): PlatformView => ({
  id: r.id,
  name: r.name,
  active: r.active,
  syncEnabled: r.sync_enabled,
  priority: r.priority,
  version: r.version,
  revision: r.revision,
  baseUrl: r.base_url,
  schedule: r.schedule,
  resources: r.resources,
});

/** The scheduler's projection of the registry's platforms, kept from `platform.*` events. */
export function createPlatformRepository(knex: Knex, schema: string) {
  const platforms = (q: Knex | Knex.Transaction = knex) => q.withSchema(schema).table('platforms');

  /**
   * `upsert` for many summaries in one statement; the ids it changed. A summary of the version
   * already projected is applied too when it says something else: the projection was made
   * from an event that lacked it (an older registry's) and the registry's platform is right.
   */
  async function upsertMany(summaries: readonly PlatformSummary[], at: Date): Promise<string[]> {
    if (summaries.length === 0) return [];
    const rows = summaries.map((p) => ({
      id: p.id,
      name: p.name,
      active: p.active,
      priority: p.priority,
      version: p.version,
      base_url: p.baseUrl ?? null,
      schedule: p.schedule ?? null,
      resources: p.resources,
    }));
    const result = await knex.raw<{ rows: { id: string }[] }>(
      `WITH applied AS (
         INSERT INTO ??.platforms AS platforms
           (id, name, active, priority, version, base_url, schedule, resources, updated_at)
         SELECT id, name, active, priority, version, base_url, schedule, resources, ?
           FROM jsonb_to_recordset(?::jsonb) AS s(id uuid, name text, active boolean,
                  priority smallint, version integer, base_url text, schedule jsonb,
                  resources jsonb)
         ON CONFLICT (id) DO UPDATE SET
           name = EXCLUDED.name, active = EXCLUDED.active, priority = EXCLUDED.priority,
           version = EXCLUDED.version, revision = platforms.revision + 1,
           base_url = EXCLUDED.base_url, schedule = EXCLUDED.schedule,
           resources = EXCLUDED.resources, updated_at = EXCLUDED.updated_at
         WHERE NOT platforms.deleted
           AND (platforms.version < EXCLUDED.version
             OR (platforms.version = EXCLUDED.version
               AND (platforms.name, platforms.active, platforms.priority, platforms.base_url,
                    platforms.schedule, platforms.resources)
                 IS DISTINCT FROM (EXCLUDED.name, EXCLUDED.active, EXCLUDED.priority,
                    EXCLUDED.base_url, EXCLUDED.schedule, EXCLUDED.resources)))
         RETURNING id, resources
       ), gone AS (
         DELETE FROM ??.collect_stops s USING applied a
          WHERE s.platform_id = a.id
            AND NOT EXISTS (
              SELECT 1 FROM jsonb_array_elements(a.resources) r
               WHERE r->>'name' = s.resource AND r->'tasks' @> '["collect"]'::jsonb)
       )
       SELECT id FROM applied`,
      [schema, at, JSON.stringify(rows), schema],
    );
    return result.rows.map((r) => r.id);
  }

  return {
    /**
     * Applies a summary unless a newer version (or its deletion) is already known. In the same
     * statement, collector stops of resources the new version no longer collects go: a stop
     * belongs to the collector it was made on, so one added back later under the same name
     * starts running, as any new collector does.
     */
    async upsert(summary: PlatformSummary, at: Date): Promise<boolean> {
      return (await upsertMany([summary], at)).length > 0;
    },

    upsertMany,

    /** Projected platforms (not deleted), by id after `afterId`: their ids and versions. */
    async projectedAfter(
      afterId: string | null,
      limit: number,
    ): Promise<{ id: string; version: number; updatedAt: Date }[]> {
      const q = platforms()
        .where({ deleted: false })
        .orderBy('id')
        .limit(limit)
        .select('id', 'version', 'updated_at');
      if (afterId) void q.where('id', '>', afterId);
      const rows = (await q) as { id: string; version: number; updated_at: Date }[];
      return rows.map((r) => ({ id: r.id, version: r.version, updatedAt: r.updated_at }));
    },

    /**
     * Keeps a tombstone, so a late `platform.updated` cannot bring the platform back; its
     * collector stops go with it in the same statement.
     */
    async markDeleted(id: string, version: number, at: Date): Promise<void> {
      await knex.raw(
        `WITH gone AS (DELETE FROM ??.collect_stops WHERE platform_id = ?)
         INSERT INTO ??.platforms (id, name, active, deleted, priority, version, resources, updated_at)
         VALUES (?, '', false, true, 1, ?, '[]'::jsonb, ?)
         ON CONFLICT (id) DO UPDATE SET deleted = true, active = false,
           version = GREATEST(platforms.version, EXCLUDED.version),
           revision = platforms.revision + 1, updated_at = EXCLUDED.updated_at`,
        [schema, id, schema, id, version, at],
      );
    },

    /** Several platforms in one query (those known and not deleted). */
    async getMany(ids: readonly string[]): Promise<Map<string, PlatformView>> {
      if (ids.length === 0) return new Map();
      const rows = await runPrepared<PlatformRow>(knex, PLATFORMS_BY_IDS, [[...new Set(ids)]]);
      return new Map(rows.map((r) => [r.id, toView(r)]));
    },

    async get(id: string): Promise<PlatformView | undefined> {
      const row = (await platforms().where({ id, deleted: false }).first()) as
        PlatformRow | undefined;
      return row ? toView(row) : undefined;
    },

    /** Platforms whose schedules run: active and not stopped by an operator. */
    async listSchedulable(q: Knex | Knex.Transaction = knex): Promise<PlatformView[]> {
      const rows = (await platforms(q).where({
        active: true,
        deleted: false,
        sync_enabled: true,
      })) as PlatformRow[];
      return rows.map(toView);
    },

    async listActive(): Promise<PlatformView[]> {
      const rows = (await platforms()
        .where({ active: true, deleted: false })
        .orderBy('name')) as PlatformRow[];
      return rows.map(toView);
    },

    /** Ids of platforms whose queued jobs must go: inactive, deleted or stopped. */
    async listUnschedulableIds(q: Knex | Knex.Transaction = knex): Promise<string[]> {
      const rows = await platforms(q)
        .where({ active: false })
        .orWhere({ deleted: true })
        .orWhere({ sync_enabled: false })
        .select<{ id: string }[]>('id');
      return rows.map((r) => r.id);
    },

    async setSyncEnabled(q: Knex | Knex.Transaction, id: string, enabled: boolean): Promise<void> {
      await platforms(q).where({ id }).update({ sync_enabled: enabled });
    },

    async counts(): Promise<{ platforms: number; active: number }> {
      const row = (await platforms()
        .where({ deleted: false })
        .select(
          knex.raw('count(*)::int as platforms'),
          knex.raw('count(*) filter (where active)::int as active'),
        )
        .first()) as { platforms: number; active: number };
      return row;
    },
  };
}

export type PlatformRepository = ReturnType<typeof createPlatformRepository>;
