import type { JobStatus } from '@psc/contracts';

export const TERMINAL: readonly JobStatus[] = ['succeeded', 'failed', 'dead', 'cancelled'];

/** Phases of one attempt, in the order a worker reports them. */
export const PHASE = { started: 1, retrying: 2, finished: 3 } as const;

export interface LedgerEvent {
  attempt: number;
  phase: (typeof PHASE)[keyof typeof PHASE];
  status: JobStatus;
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
