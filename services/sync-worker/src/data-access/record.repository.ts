import type { Knex } from 'knex';
import type { SyncedRecord } from '@psc/contracts';
import { runPrepared, type PreparedStatement } from '@psc/db';
import type { StatementEffects } from '@psc/job-runner';

export interface MappedRecord {
  key: string;
  /** Set on child records: the key of the record they belong to. */
  parentKey?: string;
  data: Record<string, unknown>;
  /** `data` as canonical JSON text: what `hash` is taken of, and what the upsert sends. */
  json: string;
  hash: string;
}

export interface RecordChange {
  key: string;
  parentKey?: string;
  kind: 'inserted' | 'updated' | 'deleted';
}

export interface UpsertResult {
  inserted: number;
  updated: number;
  unchanged: number;
  changes: RecordChange[];
  /**
   * How many of the resource's records are live after this upsert, when it was told it stores
   * the last page and could count them (see UPSERT_COUNTING); for `softDeleteMissing`.
   */
  liveAfter?: number;
}

/** Up to this many seen keys, a nested-loop anti join is still cheap (see softDeleteMissing). */
const NESTLOOP_SAFE_KEYS = 2_000;

/** Rows per statement: a page of up to this many records goes as one JSON document. */
const CHUNK = 1_000;

/**
 * When an upsert rewrites a stored record (every path that stores records uses it): only when
 * its hash changed, or to revive it after a soft-delete. `r` is the stored row.
 */
const ON_CONFLICT = `on conflict (platform_id, resource, parent_key, key) do update
  set data = excluded.data, hash = excluded.hash, updated_at = now(), deleted_at = null
  where r.hash is distinct from excluded.hash or r.deleted_at is not null`;

/** A resource's live and soft-deleted records, counted in one pass. */
const LIVE_AND_DEAD = `count(*) filter (where deleted_at is null) as live,
  count(*) filter (where deleted_at is not null) as dead`;

/**
 * Every page of every sync runs it: prepared, it is parsed and planned once per connection. Its
 * plan (an insert from one JSON array, conflicts by primary key) does not depend on the page.
 * The rows travel as one JSON text built from each record's canonical JSON, already made for
 * its hash: no second serialisation per record, and none of the escaping a `jsonb[]` parameter
 * costs (7 % of the worker's profile of a bulk sync).
 */
const UPSERT: PreparedStatement = {
  name: 'sync.records.upsert',
  text: `insert into sync.records as r (platform_id, resource, parent_key, key, data, hash)
         select $1, $2, u.parent_key, u.key, u.data, u.hash
           from jsonb_to_recordset($3::jsonb) as u(parent_key text, key text, data jsonb, hash text)
         ${ON_CONFLICT}
         returning r.key, r.parent_key, (xmax = 0) as inserted`,
};

/**
 * The upsert of a sync's last page: the same insert, and with it how many of the resource's
 * records were live and how many soft-deleted before it. Every data-modifying CTE and the
 * count read one snapshot, taken before the insert, so `live` plus what the insert adds is how
 * many are live after it when nothing was soft-deleted (no insert revived one): that tells
 * {@link RecordRepository.softDeleteMissing} whether any record is missing without a statement
 * of its own. One count over the resource's rows, once per sync, as that check did.
 */
const UPSERT_COUNTING: PreparedStatement = {
  name: 'sync.records.upsert+count',
  text: `with before as (
           select ${LIVE_AND_DEAD}
             from sync.records where platform_id = $1 and resource = $2
         ), changed as (${UPSERT.text})
         select key, parent_key, inserted, null::bigint as live, null::bigint as dead from changed
         union all
         select null, null, null, live, dead from before`,
};

/** The most records {@link RecordRepository.pageEffects} takes: one upsert's chunk. */
export const ONE_STATEMENT_RECORDS = CHUNK;

/**
 * A whole one-page sync as CTEs of the run's one statement: the upsert, the soft-delete of live
 * records the page lacks, and the stats. Every CTE reads one snapshot, taken before any of them
 * writes, so the soft-delete neither sees nor touches the upsert's rows (a record on the page is
 * never missing). A record is missing exactly when the resource has more live records after the
 * upsert (live before, plus inserted, plus soft-deleted ones the page revives) than the page
 * has: most syncs miss nothing, and then the anti join never runs (a one-time filter). The anti
 * join is a NOT IN over the page, a hashed subplan: linear however many records are live.
 */
const PAGE_EFFECTS = `sync_page as (
    select u.parent_key, u.key, u.data, u.hash
      from jsonb_to_recordset(?::jsonb) as u(parent_key text, key text, data jsonb, hash text)
  ), sync_before as (
    select ${LIVE_AND_DEAD}
      from sync.records where ?::boolean and platform_id = ? and resource = ?
  ), sync_upserted as (
    insert into sync.records as r (platform_id, resource, parent_key, key, data, hash)
    select ?, ?, p.parent_key, p.key, p.data, p.hash from sync_page p
    ${ON_CONFLICT}
    returning (xmax = 0) as inserted
  ), sync_gone as (
    update sync.records as r set deleted_at = now(), updated_at = now()
     where ?::boolean and r.platform_id = ? and r.resource = ? and r.deleted_at is null
       and (select live from sync_before)
           + (select count(*) from sync_upserted where inserted)
           + (select count(*) from sync_page p join sync.records d
                on d.platform_id = ? and d.resource = ?
               and d.parent_key = p.parent_key and d.key = p.key
             where d.deleted_at is not null and (select dead from sync_before) > 0)
           > ?::bigint
       and (r.parent_key, r.key) not in (select s.parent_key, s.key from sync_page s)
    returning 1
  ), sync_stats as (
    select jsonb_build_object(
             'fetched', ?::int,
             'inserted', count(*) filter (where inserted),
             'updated', count(*) filter (where not inserted),
             'unchanged', ?::int - count(*),
             'deleted', (select count(*) from sync_gone)) as stats
      from sync_upserted
  )`;

interface ChangeRow {
  key: string;
  parent_key: string;
  inserted: boolean;
}

interface CountingRow {
  key: string | null;
  parent_key: string | null;
  inserted: boolean | null;
  live: string | null;
  dead: string | null;
}

const toChange = (r: ChangeRow, kind: RecordChange['kind']): RecordChange => ({
  key: r.key,
  ...(r.parent_key ? { parentKey: r.parent_key } : {}),
  kind,
});

/**
 * The upsert's rows as one JSON array; `json` is already JSON, keys and hashes are quoted. The
 * pieces are joined once: appending them one by one left a rope of a few small strings per
 * record for the driver to flatten.
 */
function rowsJson(records: MappedRecord[]): string {
  const parts: string[] = [];
  for (let i = 0; i < records.length; i += 1) {
    const r = records[i]!;
    parts.push(
      i === 0 ? '[{"parent_key":' : ',{"parent_key":',
      JSON.stringify(r.parentKey ?? ''),
      ',"key":',
      JSON.stringify(r.key),
      ',"data":',
      r.json,
      ',"hash":"',
      r.hash,
      '"}',
    );
  }
  if (records.length === 0) return '[]';
  parts.push(']');
  return parts.join('');
}

export interface ListQuery {
  platformId: string;
  resource: string;
  parentKey?: string | undefined;
  includeDeleted?: boolean | undefined;
  filters?: Record<string, string> | undefined;
  after?: { parentKey: string; key: string } | undefined;
  limit: number;
}

/** A live record as the export renders it: data as PostgreSQL's JSON text, or one text per column. */
export interface ExportRow {
  key: string;
  parent_key: string;
  data_text?: string;
  cells?: (string | null)[];
}

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
      options: {
        /**
         * The sync's last page of this resource: counts the resource's live records with the
         * upsert, so `softDeleteMissing` may need no statement (see `liveAfter`).
         */
        last?: boolean;
      } = {},
    ): Promise<UpsertResult> {
      const result: UpsertResult = { inserted: 0, updated: 0, unchanged: 0, changes: [] };
      const add = (row: ChangeRow) => {
        if (row.inserted) result.inserted += 1;
        else result.updated += 1;
        result.changes.push(toChange(row, row.inserted ? 'inserted' : 'updated'));
      };
      for (let i = 0; i < records.length; i += CHUNK) {
        const chunk = records.slice(i, i + CHUNK);
        const params = [platformId, resource, rowsJson(chunk)];
        if (options.last && i + CHUNK >= records.length) {
          // The last chunk counts: earlier chunks and pages are live by now (same transaction).
          let live = 0;
          let dead = 0;
          let inserted = 0;
          let changed = 0;
          for (const row of await runPrepared<CountingRow>(trx, UPSERT_COUNTING, params)) {
            if (row.key === null) {
              live = Number(row.live);
              dead = Number(row.dead);
              continue;
            }
            changed += 1;
            if (row.inserted) inserted += 1;
            add(row as ChangeRow);
          }
          result.unchanged += chunk.length - changed;
          // With a soft-deleted record about, an update may have revived it: not counted here.
          if (dead === 0) result.liveAfter = live + inserted;
          continue;
        }
        const rows = await runPrepared<ChangeRow>(trx, UPSERT, params);
        for (const row of rows) add(row);
        result.unchanged += chunk.length - rows.length;
      }
      return result;
    },

    /**
     * A one-page sync's writes, for the run's one statement ({@link PAGE_EFFECTS}): the page's
     * records (at most {@link ONE_STATEMENT_RECORDS}, top-level, keys distinct) and, with
     * `deleteMissing`, the soft-delete of the resource's other live records.
     */
    pageEffects(
      platformId: string,
      resource: string,
      records: MappedRecord[],
      page: { itemCount: number; deleteMissing: boolean },
    ): StatementEffects {
      if (records.length > ONE_STATEMENT_RECORDS)
        throw new Error('too many records for one statement');
      return {
        ctes: PAGE_EFFECTS,
        bindings: [
          rowsJson(records),
          page.deleteMissing,
          platformId,
          resource,
          platformId,
          resource,
          page.deleteMissing,
          platformId,
          resource,
          platformId,
          resource,
          records.length,
          page.itemCount,
          records.length,
        ],
        stats: '(select stats from sync_stats)',
      };
    },

    /** Soft-deletes the resource's live records whose (parentKey, key) is not in `seen`. */
    async softDeleteMissing(
      trx: Knex.Transaction,
      platformId: string,
      resource: string,
      seen: { parentKey: string; key: string }[],
      /** The last upsert's `liveAfter`, if it counted. */
      liveAfter?: number,
    ): Promise<RecordChange[]> {
      const distinct = new Set(seen.map((s) => `${s.parentKey}\u0000${s.key}`)).size;
      // Every seen key is live now (just upserted), so a record is missing exactly when the
      // resource has more live records than distinct seen keys. The last page's upsert may have
      // counted them already: most syncs miss nothing and need no statement here at all.
      if (liveAfter !== undefined && liveAfter <= distinct) return [];
      // The rows were just upserted in this same transaction, so the table's statistics still
      // say the resource is (nearly) empty and the planner picks a nested-loop anti join over the
      // unnest: quadratic, minutes for 20,000 records (issue 7's bulk run). A hash or merge anti
      // join is linear; `set local` ends with the job's transaction. Below a few thousand keys
      // the nested loop costs nothing worth a round trip per job (most jobs are a page or two).
      if (seen.length > NESTLOOP_SAFE_KEYS) await trx.raw('set local enable_nestloop = off');
      // Otherwise that count, an uncorrelated subquery, becomes a one-time filter: when nothing
      // is missing the anti join never runs (it cost as much as the upsert itself for a page of
      // 100).
      const { rows } = await trx.raw<{ rows: ChangeRow[] }>(
        `update sync.records as r set deleted_at = now(), updated_at = now()
          where r.platform_id = ? and r.resource = ? and r.deleted_at is null
            and (select count(*) from sync.records
                  where platform_id = ? and resource = ? and deleted_at is null) > ?
            and not exists (
              select 1 from unnest(?::text[], ?::text[]) as s(parent_key, key)
               where s.parent_key = r.parent_key and s.key = r.key)
          returning r.key, r.parent_key, false as inserted`,
        [
          platformId,
          resource,
          platformId,
          resource,
          distinct,
          seen.map((s) => s.parentKey),
          seen.map((s) => s.key),
        ],
      );
      return rows.map((r) => toChange(r, 'deleted'));
    },

    /** The live top-level records of a resource, for validation. */
    async snapshot(
      platformId: string,
      resource: string,
    ): Promise<Map<string, { data: Record<string, unknown>; hash: string }>> {
      const rows = (await knex
        .withSchema('sync')
        .table('records')
        .select('key', 'data', 'hash')
        .where({ platform_id: platformId, resource, parent_key: '' })
        .whereNull('deleted_at')) as { key: string; data: Record<string, unknown>; hash: string }[];
      return new Map(rows.map((r) => [r.key, { data: r.data, hash: r.hash }]));
    },

    async getCursor(platformId: string, resource: string): Promise<string | undefined> {
      const row: unknown = await knex
        .withSchema('sync')
        .table('cursors')
        .where({ platform_id: platformId, resource })
        .first('value');
      return (row as { value: string } | undefined)?.value;
    },

    async setCursor(
      trx: Knex.Transaction,
      platformId: string,
      resource: string,
      value: string,
    ): Promise<void> {
      await trx.raw(
        `insert into sync.cursors (platform_id, resource, value) values (?, ?, ?)
         on conflict (platform_id, resource) do update set value = excluded.value, updated_at = now()`,
        [platformId, resource, value],
      );
    },

    /**
     * Rows for `records.export` in (parent_key, key) order, never parsed into objects: JSONL takes
     * `data::text` as it is, CSV takes `data ->> column` per column (text, `true`/`false`, JSON
     * for nested values, null when absent).
     */
    async exportRows(query: {
      platformId: string;
      resource: string;
      csvColumns?: string[] | undefined;
      after?: { parentKey: string; key: string } | undefined;
      limit: number;
    }): Promise<ExportRow[]> {
      const columns = query.csvColumns;
      // One text column per CSV column: node-postgres parses a text[] in JS, which tripled the
      // time of a 1,000,000-row CSV export.
      const selected = columns
        ? columns.map((c, i) => knex.raw(`data ->> ? as c${i}`, [c]))
        : [knex.raw('data::text as data_text')];
      const q = knex
        .withSchema('sync')
        .table('records')
        .select('key', 'parent_key', ...selected)
        .where({ platform_id: query.platformId, resource: query.resource })
        .whereNull('deleted_at')
        .orderBy([{ column: 'parent_key' }, { column: 'key' }])
        .limit(query.limit);
      if (query.after) {
        void q.whereRaw('(parent_key, key) > (?, ?)', [query.after.parentKey, query.after.key]);
      }
      const rows = (await q) as (ExportRow & Record<string, string | null>)[];
      if (!columns) return rows;
      return rows.map((r) => ({
        key: r.key,
        parent_key: r.parent_key,
        cells: columns.map((_, i) => r[`c${i}`] ?? null),
      }));
    },

    async list(query: ListQuery): Promise<(SyncedRecord & { parentKey: string })[]> {
      const q = knex
        .withSchema('sync')
        .table('records')
        .select('key', 'parent_key', 'data', 'updated_at', 'deleted_at')
        .where({ platform_id: query.platformId, resource: query.resource })
        .orderBy([{ column: 'parent_key' }, { column: 'key' }])
        .limit(query.limit);
      if (query.parentKey !== undefined) void q.where('parent_key', query.parentKey);
      if (!query.includeDeleted) void q.whereNull('deleted_at');
      for (const [field, value] of Object.entries(query.filters ?? {})) {
        void q.whereRaw('data ->> ? = ?', [field, value]);
      }
      if (query.after) {
        void q.whereRaw('(parent_key, key) > (?, ?)', [query.after.parentKey, query.after.key]);
      }
      const rows = (await q) as {
        key: string;
        parent_key: string;
        data: Record<string, unknown>;
        updated_at: Date;
        deleted_at: Date | null;
      }[];
      return rows.map((r) => ({
        key: r.key,
        parentKey: r.parent_key,
        data: r.data,
        updatedAt: r.updated_at.toISOString(),
        deletedAt: r.deleted_at?.toISOString() ?? null,
      }));
    },
  };
}

export type RecordRepository = ReturnType<typeof createRecordRepository>;
