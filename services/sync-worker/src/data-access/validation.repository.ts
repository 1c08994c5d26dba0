import type { Knex } from 'knex';
import type { DriftReport } from '@psc/contracts';
import type { RetentionRule } from '@psc/db';

interface Row {
  job_id: string;
  platform_id: string;
  resource: string;
  drift: boolean;
  counts: DriftReport['counts'];
  report: Pick<DriftReport, 'missing' | 'extra' | 'changed'>;
  at: Date;
}

const summary = (r: Row) => ({
  jobId: r.job_id,
  platformId: r.platform_id,
  resource: r.resource,
  at: r.at.toISOString(),
  drift: r.drift,
  counts: r.counts,
});

/** Drift reports are kept `keepMs` after their run, as long as the ledger keeps the job. */
export const validationRetention = (keepMs: number): RetentionRule => ({
  name: 'drift reports',
  table: 'sync.validations',
  column: 'at',
  keepMs,
});

export function createValidationRepository(knex: Knex) {
  const table = (q: Knex | Knex.Transaction = knex) => q.withSchema('sync').table('validations');
  return {
    /** A job's report; a replayed run's report replaces its earlier run's. */
    async insert(trx: Knex.Transaction, report: DriftReport): Promise<void> {
      await table(trx)
        .insert({
          job_id: report.jobId,
          platform_id: report.platformId,
          resource: report.resource,
          drift: report.drift,
          counts: JSON.stringify(report.counts),
          report: JSON.stringify({
            missing: report.missing,
            extra: report.extra,
            changed: report.changed,
          }),
          at: report.at,
        })
        .onConflict('job_id')
        .merge();
    },
    async get(jobId: string): Promise<DriftReport | undefined> {
      const row = (await table().where({ job_id: jobId }).first()) as Row | undefined;
      return row ? { ...summary(row), ...row.report } : undefined;
    },
    /** Newest first; the cursor is the last row's `at|jobId`. */
    async list(query: {
      platformId?: string | undefined;
      resource?: string | undefined;
      before?: { at: string; jobId: string } | undefined;
      limit: number;
    }) {
      const q = table()
        .select('job_id', 'platform_id', 'resource', 'drift', 'counts', 'at')
        .orderBy([
          { column: 'at', order: 'desc' },
          { column: 'job_id', order: 'desc' },
        ])
        .limit(query.limit);
      if (query.platformId) void q.where({ platform_id: query.platformId });
      if (query.resource) void q.where({ resource: query.resource });
      if (query.before) {
        void q.whereRaw('(at, job_id) < (?, ?)', [query.before.at, query.before.jobId]);
      }
      return ((await q) as Row[]).map(summary);
    },
  };
}

export type ValidationRepository = ReturnType<typeof createValidationRepository>;
