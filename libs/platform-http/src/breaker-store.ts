import type { Knex } from 'knex';
import type { BreakerView, PlatformCaller } from '@psc/contracts';
import type { BreakerChange, BreakerState } from './breakers.ts';

/**
 * Breaker states of every replica of a worker service and the operators' resets, in the
 * service's schema (see createFetcherTables): what `GET /monitoring/breakers` shows, and how a
 * reset asked through one replica reaches the others.
 */
export function createBreakerStore(knex: Knex, schema: string, service: PlatformCaller) {
  return {
    async save(workerId: string, change: BreakerChange): Promise<void> {
      await knex.raw(
        `insert into ${schema}.breaker_states (platform_id, worker_id, state, changed_at)
         values (?, ?, ?, ?) on conflict (platform_id, worker_id)
         do update set state = excluded.state, changed_at = excluded.changed_at`,
        [change.platformId, workerId, change.state, change.at],
      );
    },
    /** Whether an operator reset the platform's breakers after `openedAt`. */
    async resetSince(platformId: string, openedAt: Date): Promise<boolean> {
      const { rows } = await knex.raw<{ rows: unknown[] }>(
        `select 1 from ${schema}.breaker_resets where platform_id = ? and reset_at >= ?`,
        [platformId, openedAt],
      );
      return rows.length > 0;
    },
    async requestReset(platformId: string, at: Date): Promise<void> {
      await knex.raw(
        `insert into ${schema}.breaker_resets (platform_id, reset_at) values (?, ?)
         on conflict (platform_id) do update set reset_at = excluded.reset_at`,
        [platformId, at],
      );
    },
    async list(platformId?: string): Promise<BreakerView[]> {
      const { rows } = await knex.raw<{
        rows: { platform_id: string; worker_id: string; state: BreakerState; changed_at: Date }[];
      }>(
        `select platform_id, worker_id, state, changed_at from ${schema}.breaker_states
          where ?::uuid is null or platform_id = ?::uuid order by platform_id, worker_id`,
        [platformId ?? null, platformId ?? null],
      );
      return rows.map((r) => ({
        platformId: r.platform_id,
        service,
        workerId: r.worker_id,
        state: r.state,
        changedAt: r.changed_at.toISOString(),
      }));
    },
  };
}
