import type { Knex } from 'knex';
import type { WorkerHeartbeat } from '@psc/contracts';
import type { RetentionRule } from '@psc/db';

/** A worker gone for an hour leaves the table (it has long left the live list). */
export const workerRetention: RetentionRule = {
  name: 'gone workers',
  table: 'collector.workers',
  column: 'expires_at',
  keepMs: 3_600_000,
};

/** Live workers from heartbeats; a worker is gone after three missed intervals or on stop. */
export function createWorkerRepository(knex: Knex) {
  const t = () => knex.withSchema('collector').table('workers');
  return {
    async record(hb: WorkerHeartbeat): Promise<void> {
      if (hb.stopping) {
        await t().where({ worker_id: hb.workerId }).delete();
        return;
      }
      const at = new Date(hb.at);
      // A late, older heartbeat never overwrites a newer one.
      await knex.raw(
        `insert into collector.workers (worker_id, heartbeat, last_seen_at, expires_at)
         values (?, ?, ?, ?)
         on conflict (worker_id) do update
           set heartbeat = excluded.heartbeat, last_seen_at = excluded.last_seen_at,
               expires_at = excluded.expires_at
           where collector.workers.last_seen_at <= excluded.last_seen_at`,
        [hb.workerId, JSON.stringify(hb), at, new Date(at.getTime() + 3 * hb.intervalMs)],
      );
    },
    async live(now: Date) {
      const rows = (await t().where('expires_at', '>', now).orderBy('worker_id')) as {
        heartbeat: WorkerHeartbeat;
        last_seen_at: Date;
      }[];
      return rows.map(({ heartbeat: { stopping: _s, ...hb }, last_seen_at }) => ({
        ...hb,
        openBreakers: hb.openBreakers ?? [],
        lastSeenAt: last_seen_at.toISOString(),
      }));
    },
  };
}

export type WorkerRepository = ReturnType<typeof createWorkerRepository>;
