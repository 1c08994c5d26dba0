import { hostname } from 'node:os';
import { z } from 'zod';
import { commonEnv, parseEnv, portEnv } from '@psc/core';

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
  };
}
