import type { Knex } from 'knex';
import { createPlatformBreakers, type BreakerChange, type BreakerState } from '@psc/platform-http';
import type { Logger } from '@psc/telemetry';

export type { BreakerChange, BreakerState };

/**
 * The platform breakers of this worker (from @psc/platform-http), with their states kept in
 * `breaker_states` for the monitoring API. Resets asked for through the API are stored in
 * `breaker_resets` and picked up by every worker when its breaker is open.
 */
export function createBreakerRegistry(deps: {
  knex: Knex;
  workerId: string;
  logger: Logger;
  onChange: (change: BreakerChange) => void;
}) {
  const breakers = createPlatformBreakers({
    logger: deps.logger,
    onChange: (change) => {
      deps.onChange(change);
      deps.knex
        .raw(
          `insert into sync.breaker_states (platform_id, worker_id, state, changed_at)
           values (?, ?, ?, ?) on conflict (platform_id, worker_id)
           do update set state = excluded.state, changed_at = excluded.changed_at`,
          [change.platformId, deps.workerId, change.state, change.at],
        )
        .catch((err: unknown) => deps.logger.warn({ err: String(err) }, 'breaker state not saved'));
    },
    // An operator reset made after the breaker opened closes it.
    resetRequested: async (platformId, openedAt) => {
      const found: unknown = await deps.knex
        .withSchema('sync')
        .table('breaker_resets')
        .where({ platform_id: platformId })
        .first('reset_at');
      const row = found as { reset_at: Date } | undefined;
      return row !== undefined && row.reset_at >= openedAt;
    },
  });

  return {
    async requestReset(platformId: string): Promise<Date> {
      const at = new Date();
      await deps.knex.raw(
        `insert into sync.breaker_resets (platform_id, reset_at) values (?, ?)
         on conflict (platform_id) do update set reset_at = excluded.reset_at`,
        [platformId, at],
      );
      breakers.reset(platformId);
      return at;
    },
    async list(platformId?: string) {
      const q = deps.knex
        .withSchema('sync')
        .table('breaker_states')
        .select('platform_id', 'worker_id', 'state', 'changed_at')
        .orderBy(['platform_id', 'worker_id']);
      if (platformId) void q.where({ platform_id: platformId });
      const rows = (await q) as {
        platform_id: string;
        worker_id: string;
        state: BreakerState;
        changed_at: Date;
      }[];
      return rows.map((r) => ({
        platformId: r.platform_id,
        workerId: r.worker_id,
        state: r.state,
        changedAt: r.changed_at.toISOString(),
      }));
    },
    /** The breakers themselves, for the platform HTTP client. */
    breakers,
  };
}

export type BreakerRegistry = ReturnType<typeof createBreakerRegistry>;
