import type { Knex } from 'knex';
import type { AuditEntry } from '@psc/contracts';
import { delay } from '@psc/core';
import type { Logger } from '@psc/telemetry';
import { runPrepared, type PreparedStatement, type RetentionRule } from '@psc/db';

interface AuditRow {
  id: string;
  at: Date;
  actor_key_id: string;
  action: string;
  target_type: AuditEntry['targetType'];
  target_id: string;
  details: Record<string, unknown>;
}

export type NewAuditEntry = Omit<AuditEntry, 'id' | 'at'> & { at: Date };

/** Where a page of the trail goes on: after this entry, by its time and then its id. */
export interface AuditCursor {
  atMicros: string;
  id: string;
}

/** A cursor `list` answered, or undefined for anything else. */
export function parseAuditCursor(cursor: string): AuditCursor | undefined {
  const m = /^(\d{1,17})-(\d{1,19})$/.exec(cursor);
  return m ? { atMicros: m[1]!, id: m[2]! } : undefined;
}

const toRow = (entry: NewAuditEntry) => ({
  at: entry.at,
  actor_key_id: entry.actorKeyId,
  action: entry.action,
  target_type: entry.targetType,
  target_id: entry.targetId,
  details: JSON.stringify(entry.details),
});

/**
 * The batch as one JSON parameter of a prepared statement: parsed once per connection, and no
 * query builder per batch (run-now's batches are a few entries, many times a second).
 */
const INSERT_MANY: PreparedStatement = {
  name: 'gateway.audit_log.insert-many',
  text: `insert into gateway.audit_log (at, actor_key_id, action, target_type, target_id, details)
         select r.at, r.actor_key_id, r.action, r.target_type, r.target_id, r.details
           from jsonb_to_recordset($1::jsonb) as r(at timestamptz, actor_key_id uuid, action text,
                                                  target_type text, target_id text, details jsonb)`,
};

/** Entries are kept `keepMs` after their action (`PSC_AUDIT_RETENTION_DAYS`). */
export const auditRetention = (keepMs: number): RetentionRule => ({
  name: 'audit entries',
  table: 'gateway.audit_log',
  column: 'at',
  keepMs,
});

/** How long appended entries gather before one insert writes them all. */
const GATHER_MS = 100;
/** Entries per insert. */
const MAX_BATCH = 500;
/** Waits before a failed audit write is tried again; after the last, the entries are logged. */
const RETRY_DELAYS_MS = [250, 1_000, 4_000];
/** Entries on their way beyond which an action waits for them to be written (PostgreSQL is slow). */
const MAX_BACKLOG = 5_000;

export function createAuditRepository(knex: Knex, logger: Logger) {
  const log = (q: Knex | Knex.Transaction = knex) => q.withSchema('gateway').table('audit_log');
  /** Appended, not yet handed to an insert. */
  const gathering: NewAuditEntry[] = [];
  let timer: NodeJS.Timeout | undefined;
  /**
   * The last insert handed out: each waits for the one before it, so entries keep the order of
   * their actions (ids) even when an insert is being retried.
   */
  let written: Promise<void> = Promise.resolve();
  let entriesWriting = 0;

  const notAudited = (batch: NewAuditEntry[], err: unknown) => {
    for (const entry of batch) {
      logger.error(
        { err: String(err), action: entry.action, targetId: entry.targetId },
        'operator action not audited',
      );
    }
  };

  /** Inserts `batch`, retried; never rejects (what it gives up on is logged). */
  async function write(batch: NewAuditEntry[]): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        const rows = batch.map((entry) => ({ ...toRow(entry), details: entry.details }));
        await runPrepared(knex, INSERT_MANY, [JSON.stringify(rows)]);
        return;
      } catch (err) {
        const wait = RETRY_DELAYS_MS[attempt];
        if (wait === undefined) return notAudited(batch, err);
        await delay(wait);
      }
    }
  }

  /** Hands everything gathered to inserts; resolves when every insert handed out has ended. */
  function flush(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    while (gathering.length > 0) {
      const batch = gathering.splice(0, MAX_BATCH);
      entriesWriting += batch.length;
      written = written
        .then(() => write(batch))
        .finally(() => {
          entriesWriting -= batch.length;
        });
    }
    return written;
  }

  return {
    /** For the gateway's own changes (keys): the entry commits with them, in `trx`. */
    async record(entry: NewAuditEntry, trx: Knex.Transaction): Promise<void> {
      await log(trx).insert(toRow(entry));
    },

    /**
     * For changes an owner service has made and answered: the entry is written behind the
     * answer, so an action's answer does not wait for a second commit (it was half of a
     * run-now's time under load, bench scenario 1). Entries gather for `GATHER_MS` and go in one
     * insert: nobody waits for them, and each insert is a round trip that wakes PostgreSQL
     * (a tenth of the gateway's CPU when every few requests made one). Resolves at once unless
     * `MAX_BACKLOG` entries are on their way; then it waits for them all, which bounds the memory a
     * stalled PostgreSQL can take. A failed insert is retried, then its entries are logged: the
     * changes they record have happened either way.
     */
    async append(entry: NewAuditEntry): Promise<void> {
      gathering.push(entry);
      if (gathering.length + entriesWriting > MAX_BACKLOG) await flush();
      else if (gathering.length >= MAX_BATCH) void flush();
      else timer ??= setTimeout(() => void flush(), GATHER_MS);
    },

    /** Resolves once every entry appended so far is written (or given up on). */
    settled: flush,

    /**
     * A page of entries, the newest action first, and the cursor of the next. By the time of the
     * action, not the order of the writes: an action relayed for an owner is written up to
     * `GATHER_MS` after it, and a key change made meanwhile (written at once) must not show as
     * older. Waits for this replica's entries on their way, so the operator who just acted sees
     * the entry on the gateway that answered.
     */
    async list(query: {
      limit: number;
      cursor?: AuditCursor;
      targetId?: string;
      /** An action or its first dot-separated parts (letters, digits, `-` and dots only). */
      action?: string;
      actorKeyId?: string;
    }): Promise<{ items: AuditEntry[]; nextCursor: string | null }> {
      await flush();
      const q = log()
        .select('*', knex.raw('(extract(epoch from at) * 1000000)::bigint::text as at_us'))
        .orderBy([
          { column: 'at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(query.limit + 1);
      if (query.cursor) {
        void q.whereRaw(
          `(at, id) < (timestamptz 'epoch' + ?::bigint * interval '1 microsecond', ?::bigint)`,
          [query.cursor.atMicros, query.cursor.id],
        );
      }
      if (query.targetId) void q.where({ target_id: query.targetId });
      if (query.action) {
        const action = query.action;
        void q.where((w) => void w.where({ action }).orWhere('action', 'like', `${action}.%`));
      }
      if (query.actorKeyId) void q.where({ actor_key_id: query.actorKeyId });
      const rows = (await q) as (AuditRow & { at_us: string })[];
      const page = rows.slice(0, query.limit);
      const last = page.at(-1);
      return {
        items: page.map((r): AuditEntry => ({
          id: String(r.id),
          at: r.at.toISOString(),
          actorKeyId: r.actor_key_id,
          action: r.action,
          targetType: r.target_type,
          targetId: r.target_id,
          details: r.details,
        })),
        // The time to the microsecond, as PostgreSQL keeps it: an ISO time would cut it to ms.
        nextCursor: rows.length > query.limit && last ? `${last.at_us}-${last.id}` : null,
      };
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
