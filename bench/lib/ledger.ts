import type pg from 'pg';
import { waitFor } from '@psc/testing';

/** The part of a job's stats the bench checks (libs/contracts' jobStats). */
interface JobStats {
  fetched: number;
  inserted: number;
  updated: number;
  unchanged: number;
}

export interface LedgerRow {
  status: string;
  stats: JobStats | null;
  error: unknown;
  created_at: Date;
  started_at: Date | null;
  finished_at: Date | null;
}

/** Waits until psc's ledger shows the job finished; throws if it did not succeed. */
export async function waitForJob(db: pg.Pool, id: string, timeoutMs: number): Promise<LedgerRow> {
  const row = await waitFor(
    async () => {
      const { rows } = await db.query<LedgerRow>(
        `select status, stats, error, created_at, started_at, finished_at
           from scheduler.jobs where id = $1`,
        [id],
      );
      const job = rows[0];
      return job && ['succeeded', 'failed', 'dead', 'cancelled'].includes(job.status) ? job : null;
    },
    { timeoutMs, intervalMs: 100, message: `job ${id} finished` },
  );
  if (row.status !== 'succeeded') {
    throw new Error(`job ${id} ended ${row.status}: ${JSON.stringify(row.error)}`);
  }
  return row;
}
