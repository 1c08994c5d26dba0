import { z } from 'zod';
import { commonEnv, intEnv, parseEnv, portEnv } from '@psc/core';

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
  PSC_RPC_TIMEOUT_MS: intEnv(100, 120_000).default(5_000),
  /** Creates (or keeps) an admin key with this value at start-up: the first key of a system. */
  PSC_ADMIN_API_KEY: z.string().min(20, 'must be at least 20 characters').max(200).optional(),
  /** Browser origins allowed to call the API (CORS), comma-separated; none by default. */
  PSC_CORS_ORIGINS: list.pipe(z.array(z.url({ protocol: /^https?$/ }))),
  /** Requests per minute one API key may make, shared by every gateway replica. */
  PSC_RATE_LIMIT_PER_MINUTE: intEnv(1, 1_000_000).default(6_000),
  /** Failed authentications per minute from one client IP before it gets 429. */
  PSC_AUTH_FAILURES_PER_MINUTE: intEnv(1, 100_000).default(30),
  /** Reverse proxies in front of the gateway that append X-Forwarded-For (0: none, the header is ignored). */
  PSC_TRUSTED_PROXY_HOPS: intEnv(0, 10).default(0),
  PSC_BODY_LIMIT_BYTES: intEnv(1_024, 64 * 1024 * 1024).default(1024 * 1024),
  /** Queue monitoring reads rates and unacked counts here when set, else passive declares. */
  RABBITMQ_MANAGEMENT_URL: z.url({ protocol: /^https?$/ }).optional(),
  /**
   * Largest line of a JSONL import or item of a JSON-array import: with bodies streamed, this is
   * what one import holds in memory at a time.
   */
  PSC_IMPORT_MAX_ITEM_BYTES: intEnv(1_024, 16 * 1024 * 1024).default(1024 * 1024),
  /** How long the audit log keeps an operator's action (every run-now is one). */
  PSC_AUDIT_RETENTION_DAYS: intEnv(1, 3_650).default(365),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
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
    trustedProxyHops: e.PSC_TRUSTED_PROXY_HOPS,
    bodyLimitBytes: e.PSC_BODY_LIMIT_BYTES,
    managementUrl: e.RABBITMQ_MANAGEMENT_URL,
    vhost: decodeURIComponent(new URL(e.AMQP_URL).pathname.slice(1)) || '/',
    importMaxItemBytes: e.PSC_IMPORT_MAX_ITEM_BYTES,
    auditRetentionMs: e.PSC_AUDIT_RETENTION_DAYS * 86_400_000,
  };
}
