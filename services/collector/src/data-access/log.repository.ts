import { randomUUID } from 'node:crypto';
import type { Knex } from 'knex';
import { LOG_LEVELS, type LogEntry, type LogLevel } from '@psc/contracts';
import type { RetentionRule } from '@psc/db';

const LEVEL_NUMBER: Record<LogLevel, number> = {
  debug: 20,
  info: 30,
  warn: 40,
  error: 50,
  fatal: 60,
};
const LEVEL_NAME = new Map(LOG_LEVELS.map((l) => [LEVEL_NUMBER[l], l]));

/** Log entries are kept `keepMs` (`PSC_LOG_RETENTION_HOURS`). */
export const logRetention = (keepMs: number): RetentionRule => ({
  name: 'log entries',
  table: 'collector.log_entries',
  column: 'at',
  keepMs,
});

interface LogRow {
  id: string;
  at: Date;
  level: number;
  service: string;
  platform_id: string | null;
  job_id: string | null;
  message: string;
  fields: Record<string, unknown>;
  trace_id: string | null;
}

/**
 * Text PostgreSQL keeps: a line may quote a platform's text (a failed job's reason), and a NUL
 * (refused by text and jsonb) or a lone UTF-16 surrogate (refused by jsonb) in it would fail the
 * whole shipped batch, every other line in it with it. Each becomes U+FFFD.
 */
const keepable = (text: string): string => text.replaceAll('\u0000', '\ufffd').toWellFormed();

const toRow = (entry: LogEntry, id: string) => ({
  id,
  at: new Date(entry.at),
  level: LEVEL_NUMBER[entry.level],
  service: entry.service,
  platform_id: entry.platformId,
  job_id: entry.jobId,
  message: keepable(entry.message.slice(0, 2_000)),
  fields: JSON.stringify(entry.fields, (_key, value: unknown) =>
    typeof value === 'string' ? keepable(value) : value,
  ),
  trace_id: entry.traceId,
});

export function createLogRepository(knex: Knex) {
  const t = (q: Knex | Knex.Transaction = knex) => q.withSchema('collector').table('log_entries');
  return {
    /** Stores an entry once per id (a redelivered event is ignored). */
    async insert(entry: LogEntry, id: string = randomUUID(), trx?: Knex.Transaction) {
      await t(trx ?? knex)
        .insert(toRow(entry, id))
        .onConflict('id')
        .ignore();
    },
    /** Stores entries in one statement, each once per id. */
    async insertMany(entries: { id: string; entry: LogEntry }[]): Promise<void> {
      if (entries.length === 0) return;
      await t()
        .insert(entries.map((e) => toRow(e.entry, e.id)))
        .onConflict('id')
        .ignore();
    },

    async query(q: {
      level: LogLevel;
      service?: string | undefined;
      platformId?: string | undefined;
      jobId?: string | undefined;
      since?: string | undefined;
      until?: string | undefined;
      /** The last entry of the page before: only older ones. */
      before?: { at: string; id: string } | undefined;
      limit: number;
    }) {
      const query = t()
        .where('level', '>=', LEVEL_NUMBER[q.level])
        .orderBy([
          { column: 'at', order: 'desc' },
          { column: 'id', order: 'desc' },
        ])
        .limit(q.limit);
      if (q.service) void query.where({ service: q.service });
      if (q.platformId) void query.where({ platform_id: q.platformId });
      if (q.jobId) void query.where({ job_id: q.jobId });
      if (q.since) void query.where('at', '>=', new Date(q.since));
      if (q.until) void query.where('at', '<', new Date(q.until));
      if (q.before) {
        // The plain bound lets the `at` index find where the page starts; the pair breaks ties.
        void query
          .where('at', '<=', new Date(q.before.at))
          .whereRaw('(at, id) < (?, ?)', [new Date(q.before.at), q.before.id]);
      }
      const rows = (await query) as LogRow[];
      return rows.map((r) => ({
        id: r.id,
        at: r.at.toISOString(),
        level: LEVEL_NAME.get(r.level) ?? 'info',
        service: r.service,
        platformId: r.platform_id,
        jobId: r.job_id,
        message: r.message,
        fields: r.fields,
        traceId: r.trace_id,
      }));
    },
  };
}

export type LogRepository = ReturnType<typeof createLogRepository>;
