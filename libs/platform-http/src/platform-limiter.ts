import type { Knex } from 'knex';
import { delay } from '@psc/core';

export interface PlatformLimits {
  requestsPerSecond: number;
  concurrency: number;
}

const SLOT_POLL_MS = 25;

/**
 * Rate and concurrency limits per platform that hold across every replica of a worker service,
 * kept in the service's schema. The rate limit hands out request times spaced 1/rps apart (each caller reserves the
 * next free time and waits for it), so no second ever sees more than rps requests (+1 at its
 * edge). Concurrency slots are leases: a crashed holder's slot frees itself when the lease ends.
 */
export function createPlatformLimiter(knex: Knex, schema: string) {
  async function reserve(platformId: string, requestsPerSecond: number): Promise<number> {
    const spacingMs = 1_000 / requestsPerSecond;
    const { rows } = await knex.raw<{ rows: { wait_ms: number }[] }>(
      `insert into ${schema}.rate_limits as r (platform_id, next_at)
       values (?, clock_timestamp() + make_interval(secs => ? / 1000.0))
       on conflict (platform_id) do update
         set next_at = greatest(r.next_at, clock_timestamp()) + make_interval(secs => ? / 1000.0)
       returning greatest(0, extract(epoch from (r.next_at - clock_timestamp())) * 1000 - ?)::float8
         as wait_ms`,
      [platformId, spacingMs, spacingMs, spacingMs],
    );
    return rows[0]?.wait_ms ?? 0;
  }

  async function acquireSlot(
    platformId: string,
    concurrency: number,
    leaseMs: number,
    signal?: AbortSignal,
  ): Promise<number> {
    await knex.raw(
      `insert into ${schema}.platform_slots (platform_id, slot, lease_until)
       select ?, g, '-infinity' from generate_series(0, ? - 1) as g
       on conflict do nothing`,
      [platformId, concurrency],
    );
    for (;;) {
      signal?.throwIfAborted();
      const { rows } = await knex.raw<{ rows: { slot: number }[] }>(
        `update ${schema}.platform_slots set lease_until = clock_timestamp() + make_interval(secs => ? / 1000.0)
          where (platform_id, slot) = (
            select platform_id, slot from ${schema}.platform_slots
             where platform_id = ? and slot < ? and lease_until < clock_timestamp()
             order by slot limit 1 for update skip locked)
          returning slot`,
        [leaseMs, platformId, concurrency],
      );
      const slot = rows[0]?.slot;
      if (slot !== undefined) return slot;
      await delay(SLOT_POLL_MS);
    }
  }

  return {
    /**
     * Waits for a request slot of the platform, runs `call`, and frees the slot. `leaseMs` must
     * exceed the call's own timeout.
     */
    async run<T>(
      platformId: string,
      limits: PlatformLimits,
      leaseMs: number,
      call: () => Promise<T>,
      signal?: AbortSignal,
    ): Promise<T> {
      const slot = await acquireSlot(platformId, limits.concurrency, leaseMs, signal);
      try {
        const waitMs = await reserve(platformId, limits.requestsPerSecond);
        if (waitMs > 0) await delay(waitMs);
        signal?.throwIfAborted();
        return await call();
      } finally {
        await knex
          .raw(
            `update ${schema}.platform_slots set lease_until = '-infinity' where platform_id = ? and slot = ?`,
            [platformId, slot],
          )
          .catch(() => undefined); // the lease runs out on its own
      }
    },
  };
}
