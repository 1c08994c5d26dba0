import { REPLAY_RUN_PREFIX, type JobStatus } from '@psc/contracts';

export const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'dead', 'cancelled'];

/** Phases of one attempt, in the order a worker reports them. */
export const PHASE = { started: 1, retrying: 2, finished: 3 } as const;

export interface LedgerEvent {
  attempt: number;
  phase: (typeof PHASE)[keyof typeof PHASE];
  status: JobStatus;
}

/**
 * A job row's position. A job runs again under its id when replayed; each run is told apart by
 * the correlation id its `job.run` carried, which the worker copies onto the run's events.
 */
export interface LedgerState {
  status: JobStatus;
  attempt: number;
  phase: number;
  /** Correlation id of the current replayed run; null while the job is on its first run. */
  runId: string | null;
  /** Correlation ids of replayed runs that were superseded. */
  pastRuns: readonly string[];
  /** When the current run was requeued. */
  resetAt: Date | null;
}

/**
 * Whether an event moves a job forward: terminal jobs never change, and within a job events are
 * ordered by (attempt, phase). A terminal event applies even when it overtook earlier ones.
 */
export function movesForward(
  current: { status: JobStatus; attempt: number; phase: number },
  event: LedgerEvent,
): boolean {
  if (TERMINAL.includes(current.status)) return false;
  if (TERMINAL.includes(event.status)) return true;
  return (
    event.attempt > current.attempt ||
    (event.attempt === current.attempt && event.phase > current.phase)
  );
}

/** Which run of the job an event with this correlation id belongs to. */
export function runOf(current: LedgerState, correlationId: string): 'current' | 'old' | 'newer' {
  if (correlationId === current.runId) return 'current';
  if (current.pastRuns.includes(correlationId)) return 'old';
  // A replay's id we have not seen: its `job.requeued` is still on its way.
  if (correlationId.startsWith(REPLAY_RUN_PREFIX)) return 'newer';
  // Any other id is the first run's, current only while the job was never replayed.
  return current.runId === null ? 'current' : 'old';
}

/**
 * What to do with a worker's event: `apply` it, `ignore` it (stale, duplicate, or from an earlier
 * run), or `wait` until the replay it belongs to has been requeued here.
 */
export function judgeEvent(
  current: LedgerState,
  event: LedgerEvent & { correlationId: string },
): 'apply' | 'ignore' | 'wait' {
  const run = runOf(current, event.correlationId);
  if (run === 'newer') return 'wait';
  if (run === 'old') return 'ignore';
  return movesForward(current, event) ? 'apply' : 'ignore';
}

/**
 * What a `job.requeued` does: `reset` the job to queued for the new run; `retire` a requeue
 * older than the current run's (its run is superseded, its events ignored); `ignore` a duplicate.
 */
export function judgeRequeue(
  current: LedgerState,
  requeue: { runId: string; at: Date },
): 'reset' | 'retire' | 'ignore' {
  if (requeue.runId === current.runId || current.pastRuns.includes(requeue.runId)) return 'ignore';
  if (current.resetAt && requeue.at < current.resetAt) return 'retire';
  return 'reset';
}

/** Whether a running job's progress report may be shown: only the current run's, while open. */
export function progressApplies(
  current: LedgerState,
  report: { attempt: number; correlationId: string },
): boolean {
  if (TERMINAL.includes(current.status)) return false;
  if (runOf(current, report.correlationId) !== 'current') return false;
  return report.attempt >= current.attempt;
}
