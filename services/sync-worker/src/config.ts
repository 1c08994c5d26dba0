import { z } from 'zod';
import { QUEUE_SPECS } from '@psc/contracts';
import { commonEnv, parseEnv, portEnv, secretKeyEnv, secretKeysEnv } from '@psc/core';
import { concurrencyEnv, jobSlots, prefetchEnv, workerEnv, workerSettings } from '@psc/job-runner';
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
  /** While it changes: the keys it held before, which still open what was sealed under them. */
  PSC_WORKER_SECRET_KEY_PREVIOUS: secretKeysEnv(),
  HTTP_PORT: portEnv(8083),
  /** Jobs run at once per sync-worker process. */
  PSC_WORKER_CONCURRENCY: concurrencyEnv(),
  /** Jobs held per process, running or next in line (default: half as many again). */
  PSC_WORKER_PREFETCH: prefetchEnv(),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    jobs: jobSlots(QUEUE_SPECS.syncJobs, {
      concurrency: e.PSC_WORKER_CONCURRENCY,
      prefetch: e.PSC_WORKER_PREFETCH,
      handBackAfterMs: e.PSC_HAND_BACK_MS,
    }),
    ...workerSettings(e, 'sync-worker'),
    expressionBudget: expressionBudgetOf(e),
    workerSecretKey: e.PSC_WORKER_SECRET_KEY,
    previousWorkerSecretKeys: e.PSC_WORKER_SECRET_KEY_PREVIOUS,
  };
}
