import type { Knex } from 'knex';
import type { WorkerHeartbeat } from '@psc/contracts';

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
    async prune(now: Date): Promise<void> {
      await t()
        .where('expires_at', '<', new Date(now.getTime() - 3_600_000))
        .delete();
    },
  };
}

export type WorkerRepository = ReturnType<typeof createWorkerRepository>;
