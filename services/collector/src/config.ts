import { hostname } from 'node:os';
import { z } from 'zod';
import { commonEnv, parseEnv, portEnv } from '@psc/core';

const schema = z.object({
  ...commonEnv,
  HTTP_PORT: portEnv(8084),
  PSC_COLLECTOR_PREFETCH: z.coerce.number().int().min(1).max(100).default(4),
  /** Tries per collect job or fan-out child, the first included. */
  PSC_COLLECTOR_MAX_ATTEMPTS: z.coerce.number().int().min(1).max(20).default(4),
  PSC_RPC_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  PSC_FETCH_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .default(16 * 1024 * 1024),
  /** Hosts/addresses/CIDRs platform calls may reach although private or loopback. */
  PSC_EGRESS_ALLOW: z.string().default(''),
  PSC_HEARTBEAT_MS: z.coerce.number().int().min(100).max(300_000).default(5_000),
  PSC_LOG_RETENTION_HOURS: z.coerce
    .number()
    .int()
    .min(1)
    .max(24 * 365)
    .default(24 * 7),
  PSC_WORKER_ID: z.string().min(1).optional(),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    prefetch: e.PSC_COLLECTOR_PREFETCH,
    maxAttempts: e.PSC_COLLECTOR_MAX_ATTEMPTS,
    rpcTimeoutMs: e.PSC_RPC_TIMEOUT_MS,
    fetchMaxBytes: e.PSC_FETCH_MAX_BYTES,
    egressAllow: e.PSC_EGRESS_ALLOW.split(',')
      .map((s) => s.trim())
      .filter(Boolean),
    heartbeatMs: e.PSC_HEARTBEAT_MS,
    logRetentionMs: e.PSC_LOG_RETENTION_HOURS * 3_600_000,
    workerId: e.PSC_WORKER_ID ?? `collector-${hostname()}-${process.pid}`,
  };
}
