import { hostname } from 'node:os';
import { z } from 'zod';
import { RETRY_TIERS_MS, type QueueSpec } from '@psc/contracts';
import { ConfigError, intEnv } from '@psc/core';

const list = (fallback: string) =>
  z
    .string()
    .default(fallback)
    .transform((s) =>
      s
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean),
    );

/**
 * The settings every worker service (sync-worker, collector) reads the same way: its jobs'
 * retries and limits, and how it calls platforms. Spread into the service's env schema.
 */
export const workerEnv = {
  PSC_RPC_TIMEOUT_MS: intEnv(100, 120_000).default(5_000),
  /** Tries per job (and per fan-out child), the first included. */
  PSC_MAX_ATTEMPTS: intEnv(1, 20).default(4),
  /** Retry delays, comma-separated ms: attempt n waits the n-th (the last one repeats). */
  PSC_RETRY_TIERS_MS: list(RETRY_TIERS_MS.join(','))
    .transform((items) => items.map(Number))
    .pipe(z.array(z.number().int().min(10).max(86_400_000)).min(1).max(10)),
  /** Hard limit per attempt; keep it below RabbitMQ's consumer_timeout (30 min by default). */
  PSC_JOB_TIMEOUT_MS: intEnv(1_000, 3_600_000).default(900_000),
  /** An attempt still running after this long is reported `running` (`job.started`). */
  PSC_STARTED_NOTICE_MS: intEnv(0, 600_000).default(250),
  /**
   * Largest platform response read, in bytes (a platform's `maxResponseBytes` may lower it); at
   * most 256 MiB, the most a platform may set, which a job holds in memory as it parses it.
   */
  PSC_FETCH_MAX_BYTES: intEnv(1_024, 256 * 1024 * 1024).default(16 * 1024 * 1024),
  /** Loopback/private hosts, addresses or CIDRs platforms may live on (refused otherwise). */
  PSC_EGRESS_ALLOW: list(''),
  /** How often the worker announces itself (GET /api/v1/monitoring/workers). */
  PSC_HEARTBEAT_MS: intEnv(100, 300_000).default(5_000),
  PSC_WORKER_ID: z.string().min(1).max(200).optional(),
  /** A run whose delivery came back this many times without an outcome goes dead (`crash_loop`). */
  PSC_CRASH_LOOP_LIMIT: intEnv(1, 100).default(3),
  /**
   * How long a delivery held next in line (the prefetches above the concurrencies) may wait for
   * a slot before it goes back to the queue, for a replica with a free slot (consume-loop.ts).
   */
  PSC_HAND_BACK_MS: intEnv(100, 600_000).default(2_000),
  /**
   * How long a job's first request to a rate-limited platform may wait in its worker slot for
   * the platform's turn or a free request slot. A job that would wait longer is deferred (no
   * attempt spent) with its turn booked, so a burst of one slow platform's jobs cannot fill
   * every slot while other platforms' jobs wait (platform-limiter.ts).
   */
  PSC_PLATFORM_TURN_WAIT_MS: intEnv(0, 60_000).default(1_000),
  /** How long a job's statement waits for a row lock before the job is held and tried later. */
  PSC_LOCK_TIMEOUT_MS: intEnv(100, 600_000).default(5_000),
  /**
   * How long a platform (credential sealed) fetched from the registry is reused without asking
   * again; `platform.updated`/`platform.deleted` events drop it sooner. 0 asks on every job.
   */
  PSC_PLATFORM_CACHE_TTL_MS: intEnv(0, 3_600_000).default(30_000),
  /**
   * How long a run's record (and its cancellation and crash count) is kept, as long as the
   * scheduler keeps the job itself: a duplicate delivery older than that is no longer expected.
   */
  PSC_JOB_RETENTION_DAYS: intEnv(1, 3_650).default(30),
};

type WorkerEnv = z.infer<z.ZodObject<typeof workerEnv>>;

/** The parsed worker settings, named as the services use them. */
export function workerSettings(e: WorkerEnv, service: string) {
  return {
    rpcTimeoutMs: e.PSC_RPC_TIMEOUT_MS,
    maxAttempts: e.PSC_MAX_ATTEMPTS,
    retryTiersMs: [...e.PSC_RETRY_TIERS_MS].sort((a, b) => a - b),
    jobTimeoutMs: e.PSC_JOB_TIMEOUT_MS,
    startedNoticeMs: e.PSC_STARTED_NOTICE_MS,
    fetchMaxBytes: e.PSC_FETCH_MAX_BYTES,
    platformTurnWaitMs: e.PSC_PLATFORM_TURN_WAIT_MS,
    egressAllow: e.PSC_EGRESS_ALLOW,
    heartbeatMs: e.PSC_HEARTBEAT_MS,
    workerId: e.PSC_WORKER_ID ?? `${service}-${hostname()}-${process.pid}`,
    platformCacheTtlMs: e.PSC_PLATFORM_CACHE_TTL_MS,
    crashLoopLimit: e.PSC_CRASH_LOOP_LIMIT,
    lockTimeoutMs: e.PSC_LOCK_TIMEOUT_MS,
    jobRetentionMs: e.PSC_JOB_RETENTION_DAYS * 86_400_000,
  };
}

/** Jobs one consumer runs at once. */
export const concurrencyEnv = () => intEnv(1, 100).default(4);
/** Deliveries one consumer holds; unset: half as many again as it runs (see jobSlots). */
export const prefetchEnv = () => intEnv(1, 200).optional();

/** Jobs a consumer runs at once, deliveries it holds, and how long a held one waits for a slot. */
export interface JobSlots {
  concurrency: number;
  prefetch: number;
  handBackAfterMs: number;
}

/**
 * How many jobs a consumer runs at once, and how many deliveries it holds: by default half as
 * many again, which wait in the process so that a job that ends frees a slot the next one takes
 * at once, instead of after the ack's round trip to the broker and back (a fifth of every
 * slot's time under load, bench/README.md). One that waits `PSC_HAND_BACK_MS` for a slot (long
 * jobs in every slot) goes back to the queue for another replica instead of waiting out its
 * hard timeout, which counts from its delivery (runner.ts).
 */
export function jobSlots(
  queue: Pick<QueueSpec, 'concurrency' | 'prefetch'>,
  e: { concurrency: number; prefetch: number | undefined; handBackAfterMs: number },
): JobSlots {
  const held = e.prefetch ?? Math.ceil(e.concurrency * 1.5);
  if (held < e.concurrency) {
    throw new ConfigError(
      `invalid configuration: ${queue.prefetch?.env ?? 'prefetch'} (${held}) must be at least ${queue.concurrency?.env ?? 'concurrency'} (${e.concurrency}): a consumer cannot run more jobs than it holds`,
    );
  }
  return { concurrency: e.concurrency, prefetch: held, handBackAfterMs: e.handBackAfterMs };
}
