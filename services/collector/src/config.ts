import { z } from 'zod';
import { QUEUE_SPECS } from '@psc/contracts';
import { commonEnv, intEnv, parseEnv, portEnv, secretKeyEnv, secretKeysEnv } from '@psc/core';
import { concurrencyEnv, jobSlots, prefetchEnv, workerEnv, workerSettings } from '@psc/job-runner';
import { expressionBudgetEnv, expressionBudgetOf } from '@psc/platform-http';

const COLLECTOR_STAGES = ['index', 'children'] as const;
type CollectorStage = (typeof COLLECTOR_STAGES)[number];

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
  HTTP_PORT: portEnv(8084),
  /** Collect jobs (stage 1) run at once per collector. */
  PSC_COLLECTOR_CONCURRENCY: concurrencyEnv(),
  /** Collect jobs held per collector, running or next in line (default: half as many again). */
  PSC_COLLECTOR_PREFETCH: prefetchEnv(),
  /**
   * Which stages this replica consumes: `index` (collect jobs and fan-out indexes, queue
   * `collector.jobs`), `children` (fan-out children, `collector.children`), or both, so each
   * stage can be scaled on its own.
   */
  PSC_COLLECTOR_STAGES: z
    .string()
    .default('index,children')
    .transform((v) => [...new Set(v.split(',').map((s) => s.trim()))])
    .pipe(z.array(z.enum(COLLECTOR_STAGES)).min(1)),
  /** Fan-out children (stage 2) run at once per collector. */
  PSC_COLLECTOR_CHILD_CONCURRENCY: concurrencyEnv(),
  /** Fan-out children held per collector, running or next in line (default: half as many again). */
  PSC_COLLECTOR_CHILD_PREFETCH: prefetchEnv(),
  /** The most children one fan-out collection may start; a bigger index fails the job. */
  PSC_FANOUT_MAX_CHILDREN: intEnv(1, 1_000_000).default(10_000),
  PSC_LOG_RETENTION_HOURS: intEnv(1, 24 * 365).default(24 * 7),
});

export type Config = ReturnType<typeof loadConfig>;

export function loadConfig(env: Record<string, string | undefined>) {
  const e = parseEnv(schema, env);
  return {
    amqpUrl: e.AMQP_URL,
    databaseUrl: e.DATABASE_URL,
    http: { host: e.HTTP_HOST, port: e.HTTP_PORT },
    logLevel: e.LOG_LEVEL,
    jobs: jobSlots(QUEUE_SPECS.collectorJobs, {
      concurrency: e.PSC_COLLECTOR_CONCURRENCY,
      prefetch: e.PSC_COLLECTOR_PREFETCH,
      handBackAfterMs: e.PSC_HAND_BACK_MS,
    }),
    children: jobSlots(QUEUE_SPECS.collectorChildren, {
      concurrency: e.PSC_COLLECTOR_CHILD_CONCURRENCY,
      prefetch: e.PSC_COLLECTOR_CHILD_PREFETCH,
      handBackAfterMs: e.PSC_HAND_BACK_MS,
    }),
    stages: e.PSC_COLLECTOR_STAGES as readonly CollectorStage[],
    fanOutMaxChildren: e.PSC_FANOUT_MAX_CHILDREN,
    logRetentionMs: e.PSC_LOG_RETENTION_HOURS * 3_600_000,
    ...workerSettings(e, 'collector'),
    expressionBudget: expressionBudgetOf(e),
    workerSecretKey: e.PSC_WORKER_SECRET_KEY,
    previousWorkerSecretKeys: e.PSC_WORKER_SECRET_KEY_PREVIOUS,
  };
}
