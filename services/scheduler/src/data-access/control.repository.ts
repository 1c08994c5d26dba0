import type { Knex } from 'knex';
import type { SchedulerState } from '@psc/contracts';

export interface ControlRow {
  state: SchedulerState;
  reason: string | null;
  changed_at: Date;
  resumed_at: Date | null;
  last_tick_at: Date | null;
  last_purge_at: Date | null;
}

export interface AuditEntry {
  action: string;
  target: string;
  reason?: string | undefined;
  detail?: unknown;
}

/** The scheduler-wide switch (one row) and the audit log of every operator action. */
export function createControlRepository(knex: Knex, schema: string) {
  const control = (q: Knex | Knex.Transaction = knex) => q.withSchema(schema).table('control');
  return {
    async get(q: Knex | Knex.Transaction = knex): Promise<ControlRow> {
      return (await control(q).where({ id: 1 }).first()) as ControlRow;
    },
    async lockForUpdate(trx: Knex.Transaction): Promise<ControlRow> {
      return (await control(trx).where({ id: 1 }).forUpdate().first()) as ControlRow;
    },
    async update(q: Knex | Knex.Transaction, patch: Partial<ControlRow>): Promise<void> {
      await control(q).where({ id: 1 }).update(patch);
    },
    async audit(q: Knex | Knex.Transaction, at: Date, entry: AuditEntry): Promise<void> {
      await q
        .withSchema(schema)
        .table('audit')
        .insert({
          at,
          action: entry.action,
          target: entry.target,
          reason: entry.reason ?? null,
          detail: entry.detail === undefined ? null : JSON.stringify(entry.detail),
        });
    },
    async auditLog(target: string, limit = 20) {
      return (await knex
        .withSchema(schema)
        .table('audit')
        .where({ target })
        .orderBy('id', 'desc')
        .limit(limit)) as { at: Date; action: string; reason: string | null }[];
    },
  };
}

export type ControlRepository = ReturnType<typeof createControlRepository>;
