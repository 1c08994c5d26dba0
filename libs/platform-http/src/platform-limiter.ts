import type { Knex } from 'knex';
import { delay } from '@psc/core';
import { createNotificationListener, type NotificationListener } from '@psc/db';
import { PlatformDeferral } from './deferrals.ts';
import { createSlotWakeups } from './slot-wakeups.ts';

export interface PlatformLimits {
  requestsPerSecond: number;
  concurrency: number;
}

/** How a job's first request may be deferred instead of waiting in its worker slot. */
export interface TurnBound {
  /** The job's key (job and run): the turn booked for it when it is deferred. */
  holder: string;
  /** The longest the request waits for a request slot or its turn; beyond it, DeferError. */
  maxWaitMs: number;
}

/** How often a request waiting for a slot asks again while freed slots are not heard of. */
const SLOT_POLL_MS = 25;
/**
 * The same while they are heard of (the listener is live): only a lease that ran out (its
 * holder crashed) or a notification lost between two connections frees a slot unheard.
 */
const SLOT_RECHECK_MS = 1_000;
/** A booked turn its job never came back for (cancelled, dead) is dropped this long after. */
const STALE_TURN_MS = 10 * 60_000;
/**
 * The holder of a turn its job gave up (cancelled): the next request takes it before a new one.
 * The rest of the holder keeps the row's key unique.
 */
const FREE = 'free:';

/**
 * Rate and concurrency limits per platform that hold across every replica of a worker service,
 * kept in the service's schema. The rate limit hands out request times spaced 1/rps apart (each
 * caller reserves the next free time and waits for it), so no second ever sees more than rps
 * requests (+1 at its edge). Concurrency slots are leases: a crashed holder's slot frees itself
 * when the lease ends.
 *
 * A job's first request may be bounded ({@link TurnBound}): a burst of jobs for a slow platform
 * then does not fill every worker slot of every replica with jobs waiting for their turn, while
 * other platforms' jobs wait in the queue. A job whose turn is too far off books that turn
 * (`rate_tickets`, so the platform's rate is still used in order) and is deferred to come back
 * by then; one that finds no free request slot in time is deferred with nothing booked. A later
 * page of a job under way goes ahead of the booked turns.
 */
export function createPlatformLimiter(
  knex: Knex,
  schema: string,
  options: {
    logger?: Parameters<typeof createNotificationListener>[0]['logger'];
    /** How often a waiting request asks again while freed slots are heard of (tests). */
    recheckMs?: number;
  } = {},
) {
  const recheckMs = options.recheckMs ?? SLOT_RECHECK_MS;
  const wakeups = createSlotWakeups();
  const channel = `${schema}_slots`;
  // A freed slot is announced to every replica of the service, so a request waiting for it
  // takes it at once rather than at its next poll. Without a logger, the limiter only polls.
  const listener: NotificationListener | undefined = options.logger
    ? createNotificationListener({
        knex,
        channel,
        logger: options.logger,
        onNotification: (platformId) => wakeups.freed(platformId),
        // Slots freed while nobody listened: every waiter asks again.
        onListening: () => Promise.resolve(wakeups.freedAll()),
      })
    : undefined;

  /**
   * Takes the next request time; ms until it. A turn a cancelled job gave up comes first: the
   * platform's cursor has moved past it, so without this every request after a burst of
   * cancelled jobs would wait behind turns nobody uses.
   */
  async function reserve(platformId: string, spacingMs: number): Promise<number> {
    const { rows } = await knex.raw<{ rows: { wait_ms: number }[] }>(
      `with freed as (
         delete from ${schema}.rate_tickets
          where (platform_id, holder) = (
            select platform_id, holder from ${schema}.rate_tickets
             where platform_id = ? and holder like '${FREE}%' and turn_at > clock_timestamp()
             order by turn_at limit 1 for update skip locked)
         returning extract(epoch from (turn_at - clock_timestamp())) * 1000 as wait_ms
       ), moved as (
         insert into ${schema}.rate_limits as r (platform_id, next_at)
         select ?, clock_timestamp() + make_interval(secs => ? / 1000.0)
          where not exists (select 1 from freed)
         on conflict (platform_id) do update
           set next_at = greatest(r.next_at, clock_timestamp()) + make_interval(secs => ? / 1000.0)
         returning greatest(0, extract(epoch from (r.next_at - clock_timestamp())) * 1000 - ?)::float8
           as wait_ms
       )
       select wait_ms from freed union all select wait_ms from moved`,
      [platformId, platformId, spacingMs, spacingMs, spacingMs],
    );
    return Math.max(0, rows[0]?.wait_ms ?? 0);
  }

  /**
   * The turn booked for `holder` when it was deferred: ms until it, or undefined when it has
   * none, or one it came back too late for (taking it now could exceed the rate).
   */
  async function bookedTurn(
    platformId: string,
    holder: string,
    spacingMs: number,
    maxWaitMs: number,
  ): Promise<{ waitMs: number; used: boolean } | undefined> {
    // Taken in one statement: a later page may move the ticket meanwhile (pageTurn).
    const { rows: taken } = await knex.raw<{ rows: { wait_ms: number }[] }>(
      `delete from ${schema}.rate_tickets
        where platform_id = ? and holder = ?
          and turn_at <= clock_timestamp() + make_interval(secs => ? / 1000.0)
        returning extract(epoch from (turn_at - clock_timestamp())) * 1000 as wait_ms`,
      [platformId, holder, maxWaitMs],
    );
    const takenMs = taken[0]?.wait_ms;
    if (takenMs !== undefined) {
      return takenMs < -spacingMs ? undefined : { waitMs: Math.max(0, takenMs), used: true };
    }
    const { rows } = await knex.raw<{ rows: { wait_ms: number }[] }>(
      `select extract(epoch from (turn_at - clock_timestamp())) * 1000 as wait_ms
         from ${schema}.rate_tickets where platform_id = ? and holder = ?`,
      [platformId, holder],
    );
    const waitMs = rows[0]?.wait_ms;
    return waitMs === undefined ? undefined : { waitMs, used: false };
  }

  /**
   * A later page of a job under way (it holds a worker slot and maybe a transaction) takes the
   * earliest turn booked for a deferred job before its own, which moves to that job: otherwise
   * it would wait behind every booked turn. ms until the turn it gets.
   */
  async function pageTurn(platformId: string, spacingMs: number): Promise<number> {
    const waitMs = await reserve(platformId, spacingMs);
    const { rows } = await knex.raw<{ rows: { wait_ms: number }[] }>(
      `with earliest as (
         select platform_id, holder, turn_at from ${schema}.rate_tickets
          where platform_id = ? and turn_at > clock_timestamp()
            and turn_at < clock_timestamp() + make_interval(secs => ? / 1000.0)
          order by turn_at limit 1 for update skip locked)
       update ${schema}.rate_tickets r
          set turn_at = clock_timestamp() + make_interval(secs => ? / 1000.0)
         from earliest where (r.platform_id, r.holder) = (earliest.platform_id, earliest.holder)
       returning extract(epoch from (earliest.turn_at - clock_timestamp())) * 1000 as wait_ms`,
      [platformId, waitMs, waitMs],
    );
    return Math.max(0, rows[0]?.wait_ms ?? waitMs);
  }

  async function book(platformId: string, holder: string, waitMs: number): Promise<void> {
    await knex.raw(
      `with stale as (
         delete from ${schema}.rate_tickets
          where platform_id = ? and turn_at < clock_timestamp() - make_interval(secs => ? / 1000.0))
       insert into ${schema}.rate_tickets (platform_id, holder, turn_at)
       values (?, ?, clock_timestamp() + make_interval(secs => ? / 1000.0))
       on conflict (platform_id, holder) do update set turn_at = excluded.turn_at`,
      [platformId, STALE_TURN_MS, platformId, holder, waitMs],
    );
  }

  /**
   * A free request slot of the platform, taken when one is freed (or, while that is not heard
   * of, polled), or undefined when `deadline` passes first.
   */
  async function acquireSlot(
    platformId: string,
    concurrency: number,
    leaseMs: number,
    signal: AbortSignal | undefined,
    deadline: number,
  ): Promise<number | undefined> {
    await knex.raw(
      `insert into ${schema}.platform_slots (platform_id, slot, lease_until)
       select ?, g, '-infinity' from generate_series(0, ? - 1) as g
       on conflict do nothing`,
      [platformId, concurrency],
    );
    for (;;) {
      signal?.throwIfAborted();
      const seen = wakeups.generation(platformId);
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
      const left = deadline - Date.now();
      if (left <= 0) return undefined;
      const pollMs = listener?.isLive() ? recheckMs : SLOT_POLL_MS;
      await wakeups.wait(platformId, seen, Math.min(pollMs, left), signal);
    }
  }

  /** ms to wait for this request's turn; a deferral when a bounded request would wait longer. */
  async function turn(
    platform: { id: string; name: string },
    requestsPerSecond: number,
    bound: TurnBound | undefined,
  ): Promise<number> {
    const spacingMs = 1_000 / requestsPerSecond;
    if (!bound) return pageTurn(platform.id, spacingMs);
    const booked = await bookedTurn(platform.id, bound.holder, spacingMs, bound.maxWaitMs);
    if (booked?.used) return booked.waitMs;
    // Still early for its booked turn (the delay queues are coarse): back again by then.
    const waitMs = booked ? booked.waitMs : await reserve(platform.id, spacingMs);
    if (waitMs <= bound.maxWaitMs) return waitMs;
    if (!booked) await book(platform.id, bound.holder, waitMs);
    throw new PlatformDeferral(
      'rate',
      `platform ${platform.name} is rate-limited: this job's turn is in ${(waitMs / 1000).toFixed(1)} s`,
      waitMs,
      { by: true },
    );
  }

  return {
    /** Requests of this replica waiting for a platform's request slot. */
    waiting: () => wakeups.waiting(),
    /** Starts hearing of slots freed by other replicas. */
    start: async (): Promise<void> => listener?.start(),
    stop: async (): Promise<void> => listener?.stop(),
    /**
     * Frees the turns booked for a run (`holder`: its job and run) and for its fan-out children
     * (`holder/index`): it was cancelled and will not come back for them.
     */
    async release(holder: string): Promise<void> {
      await knex.raw(
        `update ${schema}.rate_tickets set holder = '${FREE}' || holder
          where holder = ? or holder like ? || '/%'`,
        [holder, holder],
      );
    },

    /**
     * Waits for a request slot of the platform and for its turn under the rate limit, runs
     * `call`, and frees the slot. `leaseMs` must exceed the call's own timeout. With `bound`,
     * a wait longer than its `maxWaitMs` throws DeferError instead.
     */
    async run<T>(
      platform: { id: string; name: string },
      limits: PlatformLimits,
      leaseMs: number,
      call: () => Promise<T>,
      options: { signal?: AbortSignal | undefined; bound?: TurnBound | undefined } = {},
    ): Promise<T> {
      const { signal, bound } = options;
      const slot = await acquireSlot(
        platform.id,
        limits.concurrency,
        leaseMs,
        signal,
        bound ? Date.now() + bound.maxWaitMs : Infinity,
      );
      if (slot === undefined) {
        // Nothing says when a slot frees: a job that keeps finding them taken (long requests
        // hold them) comes back less and less often instead of cycling through the workers.
        throw new PlatformDeferral(
          'slots',
          `platform ${platform.name} is busy: its ${limits.concurrency} request slots are taken`,
          Math.max(1_000, bound!.maxWaitMs),
          { backoff: true },
        );
      }
      try {
        const waitMs = await turn(platform, limits.requestsPerSecond, bound);
        if (waitMs > 0) await delay(waitMs);
        signal?.throwIfAborted();
        return await call();
      } finally {
        await knex
          .raw(
            `with freed as (
               update ${schema}.platform_slots set lease_until = '-infinity'
                where platform_id = ? and slot = ? returning platform_id)
             select pg_notify(?, platform_id::text) from freed`,
            [platform.id, slot, channel],
          )
          .then(() => wakeups.freed(platform.id))
          .catch(() => undefined); // the lease runs out on its own
      }
    },
  };
}
