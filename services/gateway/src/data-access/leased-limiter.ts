import type { Knex } from 'knex';
import { RateLimiterMemory, RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';

/** Over the limit: how long until the window ends. */
export interface Limited {
  msBeforeNext: number;
}

/** Points a replica takes from the shared counter at once: 1 % of the limit. */
const leaseSizeFor = (points: number): number => Math.max(1, Math.ceil(points / 100));

interface Lease {
  left: number;
  /** End of the shared window the points belong to (epoch ms). */
  until: number;
  /** Set when the shared counter is used up: no more points before `until`. */
  exhausted: boolean;
  /** The one store round trip in flight for this key, shared by every request waiting on it. */
  pending?: Promise<void> | undefined;
}

/** rate-limiter-flexible's table layout in the gateway schema (see the migrations). */
export function postgresStore(knex: Knex, keyPrefix: string, points: number, durationS: number) {
  return new RateLimiterPostgres({
    storeClient: knex,
    storeType: 'knex',
    tableName: 'rate_limits',
    schemaName: 'gateway',
    tableCreated: true,
    keyPrefix,
    points,
    duration: durationS,
    // PostgreSQL away: each replica limits on its own rather than failing every request.
    insuranceLimiter: new RateLimiterMemory({ keyPrefix, points, duration: durationS }),
  });
}

/**
 * A limit of `points` per `durationS` per key, shared by every gateway replica without a
 * PostgreSQL write per request: a replica consumes points from the shared rate-limiter-flexible
 * counter in leases of 1 % of the limit and hands them out from memory, taking the next lease in
 * the background when a quarter of the current one is left. Every request served is backed by a
 * point of the shared counter, so the replicas together never exceed the limit; points a
 * replica leased but did not use by the window's end (at most ~1.25 leases per replica and key)
 * are lost to the others, so the limit is reached a little early when several replicas share a
 * key. A limit under 100 gives leases of one point: one write per request, as exact as before.
 */
export function createLeasedLimiter(store: RateLimiterPostgres) {
  const points = store.points;
  const leaseSize = leaseSizeFor(points);
  const prefetchAt = leaseSize >= 4 ? Math.floor(leaseSize / 4) : 0;
  const leases = new Map<string, Lease>();

  /** Takes up to `leaseSize` points from the shared counter into `lease`. */
  async function acquire(key: string, lease: Lease): Promise<void> {
    let res: RateLimiterRes;
    let granted: number;
    try {
      res = await store.consume(key, leaseSize);
      granted = leaseSize;
    } catch (err) {
      if (!(err instanceof RateLimiterRes)) throw err;
      // The counter went past the limit with this lease: keep what was still free before it.
      res = err;
      granted = Math.max(0, points - (res.consumedPoints - leaseSize));
    }
    const until = Date.now() + res.msBeforeNext;
    if (until > lease.until) {
      // A new shared window: points of the old one are void.
      lease.left = 0;
      lease.exhausted = false;
    }
    lease.until = until;
    lease.left += granted;
    if (granted < leaseSize) lease.exhausted = true;
  }

  function refill(key: string, lease: Lease): Promise<void> {
    lease.pending ??= acquire(key, lease).finally(() => {
      lease.pending = undefined;
    });
    return lease.pending;
  }

  /** Sweeps leases of ended windows, so keys that stopped calling do not accumulate. */
  function sweep(now: number): void {
    if (leases.size < 10_000) return;
    for (const [key, lease] of leases) if (lease.until <= now && !lease.pending) leases.delete(key);
  }

  return {
    /** Takes one point for `key`: undefined when allowed, else how long until the window ends. */
    async take(key: string): Promise<Limited | undefined> {
      for (;;) {
        const now = Date.now();
        let lease = leases.get(key);
        if (!lease) {
          sweep(now);
          lease = { left: 0, until: 0, exhausted: false };
          leases.set(key, lease);
        }
        if (lease.until > now) {
          if (lease.left > 0) {
            lease.left -= 1;
            if (lease.left <= prefetchAt && !lease.exhausted && !lease.pending) {
              refill(key, lease).catch(() => undefined); // the next request retries in the open
            }
            return undefined;
          }
          if (lease.exhausted) return { msBeforeNext: lease.until - now };
        }
        await refill(key, lease);
      }
    },
  };
}

export type LeasedLimiter = ReturnType<typeof createLeasedLimiter>;
