import {
  isFinalJobStatus,
  type Job,
  type JobStatus,
  type PayloadOf,
  type jobFailed,
  type jobProgressed,
  type jobStarted,
  type jobSucceeded,
  type jobWaiting,
} from '@psc/contracts';

/** Outcomes that put a job into the dead-letter queue, from which it can be replayed. */
export const DEAD: readonly JobStatus[] = ['failed', 'dead'];

/** Order of the reports within one attempt, for reports made in the same millisecond. */
const PHASE = { started: 1, paused: 2, finished: 3 } as const;

/**
 * Where a job's row stands in its current run: the attempt, time and phase of the last worker
 * report applied. A report applies only if it is later (unless it ends the run), so a redelivered
 * or overtaken report never moves a job backwards.
 */
interface LedgerPosition {
  attempt: number;
  phase: number;
  at: string | null;
}

export interface LedgerEntry {
  job: Job;
  position: LedgerPosition;
}

/** A worker's report about a job, as the ledger consumer receives it. */
export type JobReport =
  | { type: 'job.started'; payload: PayloadOf<typeof jobStarted> }
  | { type: 'job.progressed'; payload: PayloadOf<typeof jobProgressed> }
  | { type: 'job.waiting'; payload: PayloadOf<typeof jobWaiting> }
  | { type: 'job.succeeded'; payload: PayloadOf<typeof jobSucceeded> }
  | { type: 'job.failed'; payload: PayloadOf<typeof jobFailed> };

function later(position: LedgerPosition, next: LedgerPosition): boolean {
  if (next.attempt !== position.attempt) return next.attempt > position.attempt;
  if (position.at !== null && next.at !== null && next.at !== position.at) {
    return next.at > position.at;
  }
  return next.phase > position.phase;
}

/**
 * The job's row after a worker's report, or undefined when the report changes nothing: it
 * belongs to another run (an earlier run's straggler), the job has ended, or it is not later
 * than what the row already shows. A report that ends the run always applies, even when it
 * overtook earlier ones.
 */
export function applyReport(entry: LedgerEntry, report: JobReport): LedgerEntry | undefined {
  const { job, position } = entry;
  const p = report.payload;
  if (isFinalJobStatus(job.status) || p.run !== job.run) return undefined;
  const attempts = Math.max(job.attempts, p.attempt);
  const startedAt = job.startedAt ?? ('startedAt' in p && p.startedAt ? p.startedAt : p.at);
  const common = { attempts, startedAt, updatedAt: p.at };
  const at = (phase: number): LedgerPosition => ({ attempt: p.attempt, phase, at: p.at });

  switch (report.type) {
    case 'job.progressed': {
      if (report.payload.attempt < position.attempt) return undefined;
      const progress = report.payload.progress;
      // A progress report implies the attempt started, when no `job.started` said so (yet).
      const moves = later(position, at(PHASE.started)) && job.status !== 'running';
      return moves
        ? {
            job: { ...job, ...common, status: 'running', progress, nextAttemptAt: null },
            position: at(PHASE.started),
          }
        : { job: { ...job, progress, updatedAt: p.at }, position };
    }
    case 'job.started':
      if (!later(position, at(PHASE.started))) return undefined;
      return {
        job: { ...job, ...common, status: 'running', nextAttemptAt: null },
        position: at(PHASE.started),
      };
    case 'job.waiting':
      if (!later(position, at(PHASE.paused))) return undefined;
      return {
        job: {
          ...job,
          ...common,
          status: 'waiting',
          nextAttemptAt: report.payload.nextAttemptAt,
          error: { class: 'deferred', message: report.payload.reason },
        },
        position: at(PHASE.paused),
      };
    case 'job.succeeded':
      return {
        job: {
          ...job,
          ...common,
          status: 'succeeded',
          stats: report.payload.stats,
          progress: report.payload.progress ?? job.progress,
          error: null,
          nextAttemptAt: null,
          finishedAt: p.at,
        },
        position: at(PHASE.finished),
      };
    case 'job.failed': {
      const { outcome, error } = report.payload;
      if (outcome === 'retrying') {
        if (!later(position, at(PHASE.paused))) return undefined;
        return {
          job: {
            ...job,
            ...common,
            status: 'retrying',
            error,
            nextAttemptAt: report.payload.nextAttemptAt ?? null,
          },
          position: at(PHASE.paused),
        };
      }
      return {
        job: { ...job, ...common, status: outcome, error, nextAttemptAt: null, finishedAt: p.at },
        position: at(PHASE.finished),
      };
    }
  }
}

/**
 * Applies reports in arrival order to the rows they concern; returns the rows that changed with
 * the status each had before.
 */
export function applyReports(
  entries: ReadonlyMap<string, LedgerEntry>,
  reports: readonly JobReport[],
): Map<string, { before: JobStatus; entry: LedgerEntry }> {
  const changed = new Map<string, { before: JobStatus; entry: LedgerEntry }>();
  for (const report of reports) {
    const id = report.payload.jobId;
    const current = changed.get(id)?.entry ?? entries.get(id);
    if (!current) continue; // a job this ledger never had, or purged since
    const next = applyReport(current, report);
    if (next)
      changed.set(id, { before: changed.get(id)?.before ?? current.job.status, entry: next });
  }
  return changed;
}

/**
 * What cancelling a job does: one that ended cannot be; a queued one ends `now`; a running (or
 * retrying, waiting) one is asked to stop and `the worker` reports it cancelled.
 */
export function cancellation(job: Pick<Job, 'status'>): 'ended' | 'now' | 'the worker' {
  if (isFinalJobStatus(job.status)) return 'ended';
  return job.status === 'queued' ? 'now' : 'the worker';
}

/** Runs a backfill takes over and runs again: they ended without success. */
export const RERUN_BY_BACKFILL: readonly JobStatus[] = ['failed', 'dead', 'cancelled'];

/**
 * A dead or failed job run again under its id, as run n+1: queued, attempts from 1, and every
 * report of earlier runs ignored from now on. `params` replace the job's own (an operator's
 * replay that mends them, or a backfill running a day again); a backfill (`backfillId`) also
 * takes the job into its list.
 */
export function replayRun(
  entry: LedgerEntry,
  at: Date,
  by: { params?: Job['params']; backfillId?: string } = {},
): LedgerEntry {
  const now = at.toISOString();
  return {
    job: {
      ...entry.job,
      ...(by.params && { params: by.params }),
      ...(by.backfillId && { backfillId: by.backfillId }),
      run: entry.job.run + 1,
      status: 'queued',
      trigger: by.backfillId ? 'backfill' : 'replay',
      attempts: 0,
      progress: null,
      stats: null,
      error: null,
      nextAttemptAt: null,
      startedAt: null,
      finishedAt: null,
      updatedAt: now,
    },
    position: { attempt: 0, phase: 0, at: null },
  };
}
