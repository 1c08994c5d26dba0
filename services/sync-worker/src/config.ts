import { z } from 'zod';
import { commonEnv, parseEnv, portEnv, secretKeyEnv } from '@psc/core';
import { workerEnv, workerSettings } from '@psc/job-runner';
import { expressionBudgetEnv, expressionBudgetOf } from '@psc/platform-http';

const schema = z.object({
  ...commonEnv,
  ...workerEnv,
  ...expressionBudgetEnv,
  /**
   * Opens the platform credentials the registry seals for the workers; the registry, the
   * sync-worker and the collector must hold the same one.
   */
  PSC_WORKER_SECRET_KEY: secretKeyEnv(),
  HTTP_PORT: portEnv(8083),
  PSC_WORKER_PREFETCH: z.coerce.number().int().min(1).max(100).default(4),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    prefetch: e.PSC_WORKER_PREFETCH,
    ...workerSettings(e, 'sync-worker'),
    expressionBudget: expressionBudgetOf(e),
    workerSecretKey: e.PSC_WORKER_SECRET_KEY,
  };
}
