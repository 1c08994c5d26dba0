import type { Knex } from 'knex';
import type { Logger } from 'pino';
import {
  breakerList,
  breakerReset,
  type PlatformCaller,
  type SealedPlatform,
} from '@psc/contracts';
import type { EgressGuard } from '@psc/egress';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import { PSC_METRICS, registerScrapeGauge, type Metrics } from '@psc/telemetry';
import { createBreakerStore } from './breaker-store.ts';
import { FETCHER_TABLES } from './fetcher-tables.ts';
import { createPlatformBreakers, type BreakerChange } from './breakers.ts';
import {
  createPlatformHttpClient,
  type PlatformRequest,
  type RequestOptions,
} from './platform-client.ts';
import { createPlatformLimiter } from './platform-limiter.ts';
import { createPlatformMetrics } from './platform-metrics.ts';
import type { WorkerSeal } from './worker-seal.ts';

export interface PlatformFetcherOptions {
  knex: Knex;
  /** The worker service's schema, with the fetcher's tables (createFetcherTables). */
  schema: string;
  service: PlatformCaller;
  workerId: string;
  maxBytes: number;
  egress: Pick<EgressGuard, 'checkUrl' | 'lookup'>;
  logger: Logger;
  /** Told of every breaker change after it is stored (events, metrics). */
  onBreakerChange?: (change: BreakerChange) => void;
  /** Where the request and breaker metrics go (`psc_platform_*`, `psc_breaker_state`). */
  registry?: Metrics['registry'];
  /** Opens the sealed credential of each call (`PSC_WORKER_SECRET_KEY`). */
  seal: Pick<WorkerSeal, 'open'>;
  /**
   * The longest a job's first request waits in its worker slot for a rate-limited platform's
   * turn or request slot before the job is deferred (`PSC_PLATFORM_TURN_WAIT_MS`).
   */
  turnWaitMs: number;
}

/**
 * How a worker calls platforms: the HTTP client (egress guard, auth, timeout, size cap,
 * Retry-After) behind one breaker per platform — whose states are stored for the monitoring API
 * and which an operator can reset on every replica — and the platform's rate and concurrency
 * limits, shared by all replicas of the service.
 */
export function createPlatformFetcher(options: PlatformFetcherOptions) {
  const log = options.logger.child({ component: 'platform-fetcher' });
  const store = createBreakerStore(options.knex, options.schema, options.service);
  const limiter = createPlatformLimiter(options.knex, options.schema, {
    logger: log.child({ component: 'platform-slots' }),
  });
  const metrics = options.registry ? createPlatformMetrics(options.registry) : undefined;
  if (options.registry) {
    registerScrapeGauge(options.registry, PSC_METRICS.platformSlotWaits, () =>
      Promise.resolve(
        limiter.waiting().map((w) => ({ labels: { platform: w.platformId }, value: w.count })),
      ),
    );
  }
  const breakers = createPlatformBreakers({
    logger: log,
    onChange: (change) => {
      store
        .save(options.workerId, change)
        .catch((err: unknown) => log.warn({ err: String(err) }, 'breaker state not saved'));
      metrics?.breaker(change);
      options.onBreakerChange?.(change);
    },
    resetRequested: (platformId, openedAt) => store.resetSince(platformId, openedAt),
  });
  const client = createPlatformHttpClient({
    maxBytes: options.maxBytes,
    egress: options.egress,
    breakers,
    ...(metrics ? { metrics } : {}),
    limit: (platform, task, { signal, deferAs }) => {
      const limits = platform.rateLimit;
      if (!limits) return task();
      // A request slot is leased for the call's timeout and the wait for its turn: the turns
      // of the other slots' holders, and one booked turn it may take (platform-limiter.ts).
      const turnsMs = ((limits.concurrency + 1) * 1_000) / limits.requestsPerSecond;
      return limiter.run(platform, limits, platform.timeoutMs + turnsMs + 5_000, task, {
        signal,
        bound: deferAs ? { holder: deferAs, maxWaitMs: options.turnWaitMs } : undefined,
      });
    },
  });

  return {
    /**
     * The credential is opened here, for this call only, so the rest of the worker (its cache,
     * domain code, logs) only ever holds the sealed form. A key that does not open it fails the
     * call before the breaker: the platform is not at fault.
     */
    request: async (
      platform: SealedPlatform,
      request: PlatformRequest,
      requestOptions?: RequestOptions,
    ) => client.request(options.seal.open(platform), request, requestOptions),
    /**
     * Frees the rate-limit turns booked for a cancelled run (`holder`: its run key) and its
     * fan-out children, for the platform's next requests to take.
     */
    releaseTurns: (holder: string) => limiter.release(holder),
    /**
     * Drops what this service keeps about a deleted platform: its breaker here, its metrics
     * gauge, and its rows (every replica's breaker states, resets, limits, booked turns), so the
     * monitoring API stops listing it. Each replica hears the deletion; the deletes are idempotent.
     */
    async forget(platformId: string): Promise<void> {
      breakers.forget(platformId);
      metrics?.forget(platformId);
      const ctes = FETCHER_TABLES.slice(1).map(
        (table, i) => `d${i} as (delete from ${options.schema}.${table} where platform_id = ?)`,
      );
      await options.knex.raw(
        `with ${ctes.join(', ')} delete from ${options.schema}.${FETCHER_TABLES[0]} where platform_id = ?`,
        FETCHER_TABLES.map(() => platformId),
      );
    },
    /** Ids of platforms whose breaker is open in this replica (heartbeats). */
    openBreakers: () => breakers.openBreakers(),
    /** `breaker.list` and `breaker.reset` of this service. */
    rpcHandlers(): RpcHandler[] {
      return [
        rpcHandler(breakerList[options.service], async ({ platformId }) => ({
          items: await store.list(platformId),
        })),
        rpcHandler(breakerReset[options.service], async ({ platformId }) => {
          const at = new Date();
          await store.requestReset(platformId, at);
          breakers.reset(platformId);
          return { platformId, resetAt: at.toISOString() };
        }),
      ];
    },
    /** Starts hearing of request slots that other replicas free. */
    start: () => limiter.start(),
    async close(): Promise<void> {
      await limiter.stop();
      client.close();
    },
  };
}

export type PlatformFetcher = ReturnType<typeof createPlatformFetcher>;
