import type { Knex } from 'knex';
import type { AuditEntry } from '@psc/contracts';
import { createCoalescer } from '@psc/core';
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

export function createAuditRepository(knex: Knex) {
  const log = (q: Knex | Knex.Transaction = knex) => q.withSchema('gateway').table('audit_log');
  // Group commit: every run-now is an audited action, and one insert per request was a
  // transaction per job. Entries of requests answered meanwhile go in one statement; each
  // request still waits for its own entry to commit before it answers.
  const insert = createCoalescer<NewAuditEntry, void>({
    maxBatch: 500,
    send: async (entries) => {
      const rows = entries.map((entry) => ({ ...toRow(entry), details: entry.details }));
      await runPrepared(knex, INSERT_MANY, [JSON.stringify(rows)]);
      return entries.map(() => undefined);
    },
  });
  return {
    /** Inside `trx` when the change is the gateway's own (keys); after the RPC for the others. */
    async record(entry: NewAuditEntry, trx?: Knex.Transaction): Promise<void> {
      if (trx) await log(trx).insert(toRow(entry));
      else await insert(entry);
    },

    /** Newest first. */
    async list(query: { limit: number; beforeId?: string; targetId?: string }) {
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
