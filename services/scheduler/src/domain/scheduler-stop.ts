/**
 * A stop cancels the jobs queued before it in transactions of at most this many jobs (each
 * with its `job.cancel-requested`): the stop's own, then one per tick while the scheduler stays
 * stopped. However large the backlog, the stop answers within the gateway's wait, and no tick
 * holds a long transaction.
 */
export const STOP_CANCEL_BATCH = 2_000;

/** Why a stop cancelled a job, as its error says: the same for every batch of one stop. */
export function stopCancelReason(reason: string | null): string {
  return `scheduler stopped${reason ? `: ${reason}` : ''}`;
}
