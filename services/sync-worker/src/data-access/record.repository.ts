import type { Knex } from 'knex';
import type { SyncedRecord } from '@psc/contracts';

export interface MappedRecord {
  key: string;
  data: Record<string, unknown>;
  hash: string;
}

export interface UpsertCounts {
  inserted: number;
  updated: number;
  unchanged: number;
}

/** Rows per statement: 3 array parameters, so far below PostgreSQL's 65,535 bind limit. */
const CHUNK = 1_000;

export function createRecordRepository(knex: Knex) {
  return {
    /**
     * Upserts mapped records, writing a row only when its hash changed (or it was deleted).
     * `xmax = 0` marks a row this statement inserted rather than updated.
     */
    async upsert(
      trx: Knex.Transaction,
      platformId: string,
      resource: string,
      records: MappedRecord[],
    ): Promise<UpsertCounts> {
      const counts: UpsertCounts = { inserted: 0, updated: 0, unchanged: 0 };
      for (let i = 0; i < records.length; i += CHUNK) {
        const chunk = records.slice(i, i + CHUNK);
        const result = await trx.raw<{ rows: { inserted: boolean }[] }>(
          `insert into sync.records as r (platform_id, resource, key, data, hash)
           select ?, ?, u.key, u.data, u.hash
             from unnest(?::text[], ?::jsonb[], ?::text[]) as u(key, data, hash)
           on conflict (platform_id, resource, key) do update
             set data = excluded.data, hash = excluded.hash, updated_at = now(), deleted_at = null
             where r.hash is distinct from excluded.hash or r.deleted_at is not null
           returning (xmax = 0) as inserted`,
          [
            platformId,
            resource,
            chunk.map((r) => r.key),
            chunk.map((r) => JSON.stringify(r.data)),
            chunk.map((r) => r.hash),
          ],
        );
        const inserted = result.rows.filter((r) => r.inserted).length;
        counts.inserted += inserted;
        counts.updated += result.rows.length - inserted;
        counts.unchanged += chunk.length - result.rows.length;
      }
      return counts;
    },

    async list(query: {
      platformId: string;
      resource: string;
      afterKey?: string | undefined;
      limit: number;
    }): Promise<SyncedRecord[]> {
      const q = knex
        .withSchema('sync')
        .table('records')
        .select<{ key: string; data: Record<string, unknown>; updated_at: Date }[]>(
          'key',
          'data',
          'updated_at',
        )
        .where({ platform_id: query.platformId, resource: query.resource })
        .whereNull('deleted_at')
        .orderBy('key')
        .limit(query.limit);
      if (query.afterKey !== undefined) void q.where('key', '>', query.afterKey);
      const rows = await q;
      return rows.map((r) => ({ key: r.key, data: r.data, updatedAt: r.updated_at.toISOString() }));
    },
  };
}

export type RecordRepository = ReturnType<typeof createRecordRepository>;
