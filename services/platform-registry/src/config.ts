import { z } from 'zod';
import { commonEnv, parseEnv, portEnv } from '@psc/core';

const schema = z.object({
  ...commonEnv,
  HTTP_PORT: portEnv(8081),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
  };
}
