import { getHeapStatistics } from 'node:v8';
import { z } from 'zod';
import { ConfigError, commonEnv, parseEnv, portEnv } from '@psc/core';

const list = z
  .string()
  .default('')
  .transform((v) =>
    v
      .split(',')
      .map((s) => s.trim())
      .filter((s) => s !== ''),
  );

const schema = z.object({
  AMQP_URL: commonEnv.AMQP_URL,
  DATABASE_URL: commonEnv.DATABASE_URL,
  HTTP_HOST: commonEnv.HTTP_HOST,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  HTTP_PORT: portEnv(8080),
  PSC_RPC_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  /** Creates (or keeps) an admin key with this value at start-up: the first key of a system. */
  PSC_ADMIN_API_KEY: z.string().min(20, 'must be at least 20 characters').max(200).optional(),
  /** Browser origins allowed to call the API (CORS), comma-separated; none by default. */
  PSC_CORS_ORIGINS: list.pipe(z.array(z.url({ protocol: /^https?$/ }))),
  /** Requests per minute one API key may make, shared by every gateway replica. */
  PSC_RATE_LIMIT_PER_MINUTE: z.coerce.number().int().min(1).max(1_000_000).default(6_000),
  /** Failed authentications per minute from one client IP before it gets 429. */
  PSC_AUTH_FAILURES_PER_MINUTE: z.coerce.number().int().min(1).max(100_000).default(30),
  PSC_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
  /** Queue monitoring reads rates and unacked counts here when set, else passive declares. */
  RABBITMQ_MANAGEMENT_URL: z.url({ protocol: /^https?$/ }).optional(),
  /** Largest JSON-array import body (JSONL bodies are streamed and not limited). */
  PSC_IMPORT_MAX_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .default(16 * 1024 * 1024),
});

export type Config = ReturnType<typeof loadConfig>;

/** A JSON-array import holds its body text and the parsed items at once: about 5 × its size. */
const IMPORT_HEAP_FACTOR = 5;
/** What the gateway itself needs besides one import (idle heap ~30 MB, in-flight requests). */
const HEAP_RESERVE_BYTES = 48 * 1024 * 1024;

/**
 * Fails start-up when one JSON-array import could exhaust this process's heap (the gateway runs
 * with a capped old generation, see SERVICE_EXTRA_FLAGS): a clear error now instead of an
 * out-of-memory crash on the first large import.
 */
function checkImportFitsHeap(importLimitBytes: number, heapLimitBytes: number): void {
  const needed = importLimitBytes * IMPORT_HEAP_FACTOR + HEAP_RESERVE_BYTES;
  if (needed > heapLimitBytes) {
    const mb = (n: number) => Math.ceil(n / 1024 / 1024);
    throw new ConfigError(
      `invalid configuration: PSC_IMPORT_MAX_BYTES: ${importLimitBytes} bytes needs about ${mb(needed)} MB of heap, this ` +
        `gateway has ${mb(heapLimitBytes)} MB; lower it (large imports stream as JSONL) or raise ` +
        `--max-old-space-size`,
    );
  }
}

export function loadConfig(
  env: Record<string, string | undefined>,
  heapLimitBytes: number = getHeapStatistics().heap_size_limit,
) {
  const e = parseEnv(schema, env);
  checkImportFitsHeap(e.PSC_IMPORT_MAX_BYTES, heapLimitBytes);
  return {
    amqpUrl: e.AMQP_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    rpcTimeoutMs: e.PSC_RPC_TIMEOUT_MS,
    databaseUrl: e.DATABASE_URL,
    adminApiKey: e.PSC_ADMIN_API_KEY,
    corsOrigins: e.PSC_CORS_ORIGINS,
    rateLimitPerMinute: e.PSC_RATE_LIMIT_PER_MINUTE,
    authFailuresPerMinute: e.PSC_AUTH_FAILURES_PER_MINUTE,
    bodyLimitBytes: e.PSC_BODY_LIMIT_BYTES,
    managementUrl: e.RABBITMQ_MANAGEMENT_URL,
    vhost: decodeURIComponent(new URL(e.AMQP_URL).pathname.slice(1)) || '/',
    importLimitBytes: e.PSC_IMPORT_MAX_BYTES,
  };
}
