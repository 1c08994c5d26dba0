import type { Knex } from 'knex';
import type { Logger } from 'pino';
import { createNotificationListener } from '@psc/db';
import { cancellationChannel } from './job-runs.ts';

/** Most cancelled runs remembered; older ones are still refused when their run commits. */
const MAX_RUNS = 100_000;

const keyOf = (jobId: string, run: number) => `${jobId}:${run}`;

/**
 * The runs cancelled so far, in every replica's memory: the replica whose consumer stores a
 * cancellation notifies the others through PostgreSQL (`cancelled_jobs` is the record). So a run
 * cancelled while it waited in the queue is refused before it calls its platform, by whichever
 * replica takes it, without a statement per job; and a run's check between pages costs nothing.
 * While the listener is not live (PostgreSQL away, or reconnecting) it knows nothing, and the
 * runner asks the table instead. The check at commit stays the authority either way.
 */
export function createCancelWatch(deps: { knex: Knex; schema: string; logger: Logger }) {
  const cancelled = new Set<string>();
  const remember = (key: string) => {
    cancelled.add(key);
    // A Set iterates in insertion order: the first is the oldest.
    if (cancelled.size > MAX_RUNS) cancelled.delete(cancelled.values().next().value!);
  };
  const listener = createNotificationListener({
    knex: deps.knex,
    channel: cancellationChannel(deps.schema),
    logger: deps.logger.child({ component: 'cancel-watch' }),
    onNotification: remember,
    async onListening() {
      // What was stored while nobody listened (or before this replica started).
      const { rows } = await deps.knex.raw<{ rows: { job_id: string; run: number }[] }>(
        `select job_id, run from ??.cancelled_jobs order by at desc limit ?`,
        [deps.schema, MAX_RUNS],
      );
      for (const r of rows.reverse()) remember(keyOf(r.job_id, r.run));
    },
  });
  return {
    start: listener.start,
    stop: listener.stop,
    /** Whether the run was cancelled; undefined while the watch is not live (ask the table). */
    cancelled(jobId: string, run: number): boolean | undefined {
      return listener.isLive() ? cancelled.has(keyOf(jobId, run)) : undefined;
    },
  };
}
