import type { Knex } from 'knex';
import type { AuditEntry } from '@psc/contracts';
import { createCoalescer, delay } from '@psc/core';
import type { Logger } from '@psc/telemetry';
import { runPrepared, type PreparedStatement } from '@psc/db';

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

/** Waits before a failed audit write is tried again; after the last, the entries are logged. */
const RETRY_DELAYS_MS = [250, 1_000, 4_000];
/** Entries on their way beyond which an action waits for its own entry (PostgreSQL is slow). */
const MAX_BACKLOG = 5_000;

export function createAuditRepository(knex: Knex, logger: Logger) {
  const log = (q: Knex | Knex.Transaction = knex) => q.withSchema('gateway').table('audit_log');
  // Group commit: every run-now is an audited action, and one insert per request was a
  // transaction per job. Entries appended meanwhile go in one statement.
  const insert = createCoalescer<NewAuditEntry, void>({
    maxBatch: 500,
    send: async (entries) => {
      const rows = entries.map((entry) => ({ ...toRow(entry), details: entry.details }));
      await runPrepared(knex, INSERT_MANY, [JSON.stringify(rows)]);
      return entries.map(() => undefined);
    },
  });
  const onTheirWay = new Set<Promise<void>>();

  async function write(entry: NewAuditEntry): Promise<void> {
    for (let attempt = 0; ; attempt += 1) {
      try {
        await insert(entry);
        return;
      } catch (err) {
        const wait = RETRY_DELAYS_MS[attempt];
        if (wait === undefined) {
          logger.error(
            { err: String(err), action: entry.action, targetId: entry.targetId },
            'operator action not audited',
          );
          return;
        }
        await delay(wait);
      }
    }
  }

  return {
    /** For the gateway's own changes (keys): the entry commits with them, in `trx`. */
    async record(entry: NewAuditEntry, trx: Knex.Transaction): Promise<void> {
      await log(trx).insert(toRow(entry));
    },

    /**
     * For changes an owner service has made and answered: the entry is written behind the
     * answer, with the entries of the requests answered meanwhile, so an action's answer does
     * not wait for a second commit (half of run-now's time under load, bench scenario 1).
     * Resolves at once unless `MAX_BACKLOG` entries are on their way; then it waits for its own,
     * which bounds the memory a stalled PostgreSQL can take. A failed write is retried, then
     * logged: the change it records has happened either way.
     */
    async append(entry: NewAuditEntry): Promise<void> {
      const written = write(entry).finally(() => onTheirWay.delete(written));
      onTheirWay.add(written);
      if (onTheirWay.size > MAX_BACKLOG) await written;
    },

    /** Resolves once every entry appended so far is written (or given up on). */
    async settled(): Promise<void> {
      await Promise.all([...onTheirWay]);
    },

    /**
     * Newest first. Waits for this replica's entries on their way, so the operator who just
     * acted sees the entry on the gateway that answered.
     */
    async list(query: { limit: number; beforeId?: string; targetId?: string }) {
      await Promise.all([...onTheirWay]);
      const q = log().orderBy('id', 'desc').limit(query.limit);
      if (query.beforeId) void q.where('id', '<', query.beforeId);
      if (query.targetId) void q.where({ target_id: query.targetId });
      const rows = (await q) as AuditRow[];
      return rows.map((r): AuditEntry => ({
        id: String(r.id),
        at: r.at.toISOString(),
        actorKeyId: r.actor_key_id,
        action: r.action,
        targetType: r.target_type,
        targetId: r.target_id,
        details: r.details,
      }));
    },
  };
}

export type AuditRepository = ReturnType<typeof createAuditRepository>;
