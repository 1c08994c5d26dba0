import type { Knex } from 'knex';

/**
 * The lock between the operators' stops and the ticks' scheduled runs. A stop (the scheduler's,
 * a platform's sync, a collector's) holds it alone for its transaction; a tick holds it shared
 * while it writes runs, and writes only those no committed stop forbids (INSERT_SCHEDULED reads
 * the switches under it). So a scheduled run is written either before the stop, which then
 * cancels it with the other queued runs, or not at all: a tick that planned before the stop
 * committed makes no run after it.
 */
const KEY = 'psc.scheduler.switches';

/** Taken first in a stop's transaction: it waits for the ticks writing runs now. */
export async function lockSwitchesForStop(trx: Knex.Transaction): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock(hashtext(?))', [KEY]);
}

/** Taken before a tick writes scheduled runs: a stop waits until that transaction ends. */
export async function shareSwitchesForRuns(trx: Knex.Transaction): Promise<void> {
  await trx.raw('select pg_advisory_xact_lock_shared(hashtext(?))', [KEY]);
}
