import { hostname } from 'node:os';
import { z } from 'zod';
import { RETRY_TIERS_MS } from '@psc/contracts';
import { commonEnv, parseEnv, portEnv } from '@psc/core';

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

const schema = z.object({
  ...commonEnv,
  HTTP_PORT: portEnv(8083),
  PSC_RPC_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  PSC_WORKER_PREFETCH: z.coerce.number().int().min(1).max(100).default(4),
  PSC_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(4),
  PSC_FETCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .default(16 * 1024 * 1024),
  PSC_WORKER_ID: z.string().min(1).optional(),
  /** How often this worker announces itself (GET /api/v1/monitoring/workers). */
  PSC_HEARTBEAT_MS: z.coerce.number().int().min(100).max(300_000).default(5_000),
  /** Retry delay tiers, comma-separated ms, ascending; tests make them short. */
  PSC_RETRY_TIERS_MS: list(RETRY_TIERS_MS.join(','))
    .transform((items) => items.map(Number))
    .pipe(z.array(z.number().int().min(10).max(86_400_000)).min(1).max(10)),
  /** Hard limit per job; keep it below RabbitMQ's consumer_timeout (30 min by default). */
  PSC_JOB_TIMEOUT_MS: z.coerce.number().int().min(1_000).max(3_600_000).default(900_000),
  /** Loopback/private hosts platforms may live on (the egress guard refuses them otherwise). */
  PSC_EGRESS_ALLOW: list(''),
  /**
   * How long a platform (with credentials) fetched from the registry is reused without asking
   * again; `platform.updated`/`platform.deleted` events drop it sooner. 0 asks on every job.
   */
  PSC_PLATFORM_CACHE_TTL_MS: z.coerce.number().int().min(0).max(3_600_000).default(30_000),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    rpcTimeoutMs: e.PSC_RPC_TIMEOUT_MS,
    prefetch: e.PSC_WORKER_PREFETCH,
    maxAttempts: e.PSC_MAX_ATTEMPTS,
    fetchMaxBytes: e.PSC_FETCH_MAX_BYTES,
    workerId: e.PSC_WORKER_ID ?? `${hostname()}-${process.pid}`,
    retryTiersMs: [...e.PSC_RETRY_TIERS_MS].sort((a, b) => a - b),
    jobTimeoutMs: e.PSC_JOB_TIMEOUT_MS,
    heartbeatMs: e.PSC_HEARTBEAT_MS,
    egressAllow: e.PSC_EGRESS_ALLOW,
    platformCacheTtlMs: e.PSC_PLATFORM_CACHE_TTL_MS,
  };
}
