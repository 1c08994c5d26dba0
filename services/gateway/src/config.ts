import { z } from 'zod';
import { commonEnv, parseEnv, portEnv } from '@psc/core';

const schema = z.object({
  AMQP_URL: commonEnv.AMQP_URL,
  HTTP_HOST: commonEnv.HTTP_HOST,
  LOG_LEVEL: commonEnv.LOG_LEVEL,
  HTTP_PORT: portEnv(8080),
  PSC_RPC_TIMEOUT_MS: z.coerce.number().int().min(100).max(120_000).default(5_000),
  PSC_BODY_LIMIT_BYTES: z.coerce
    .number()
    .int()
    .min(1_024)
    .max(64 * 1024 * 1024)
    .default(1024 * 1024),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    rpcTimeoutMs: e.PSC_RPC_TIMEOUT_MS,
    bodyLimitBytes: e.PSC_BODY_LIMIT_BYTES,
  };
}
