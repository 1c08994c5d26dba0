/**
 * Queued jobs are cancelled in transactions of at most this many (each with its
 * `job.cancel-requested`): a scheduler stop or a platform's sync stop cancels the first batch
 * itself and answers; each tick cancels the next batch for as long as the stop holds. However
 * large the backlog, the operator's request answers within the gateway's wait, and no tick holds
 * a long transaction.
 */
export const CANCEL_BATCH = 2_000;

/** Why a scheduler stop cancelled a job, as its error says: the same for every batch of one stop. */
export function stopCancelReason(reason: string | null): string {
  return `scheduler stopped${reason ? `: ${reason}` : ''}`;
}

/** Why a collector's stop cancelled its queued scheduled runs: the stop's and the ticks' batches. */
export function collectStopCancelReason(reason: string | null): string {
  return `collector stopped${reason ? `: ${reason}` : ''}`;
}
