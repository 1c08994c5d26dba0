import { JOB_QUEUE_FOR_TASK, QUEUE_SPECS, jobOutcomes, type PlatformCaller } from '@psc/contracts';
import type { Clock } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { JobRepository } from '../../data-access/job.repository.ts';
import type { LedgerStore } from '../../data-access/ledger.store.ts';
import { reportsFromOutcomes } from '../../domain/reconcile.ts';

/** Which worker service runs a task type's jobs. */
const workerOf = (taskType: keyof typeof JOB_QUEUE_FOR_TASK): PlatformCaller =>
  JOB_QUEUE_FOR_TASK[taskType] === QUEUE_SPECS.collectorJobs.name ? 'collector' : 'sync-worker';

/**
 * The ledger's safety net (leader only): jobs open for longer than `afterMs` with no report are
 * checked against what their worker service recorded, and finished if it recorded an outcome
 * whose report never arrived. Reports are held, not lost, while the ledger's database is away,
 * so this finds only what something else lost.
 */
export function createReconcileLoop(deps: {
  jobs: JobRepository;
  ledger: LedgerStore;
  rpc: RpcClient<'scheduler'>;
  clock: Clock;
  isLeader: () => boolean;
  afterMs: number;
  everyMs: number;
  logger: Logger;
}) {
  const log = deps.logger.child({ component: 'reconcile' });
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<void> | undefined;

  async function once(): Promise<number> {
    const stale = await deps.jobs.staleOpen(
      new Date(deps.clock.now().getTime() - deps.afterMs),
      500,
    );
    let finished = 0;
    for (const service of ['sync-worker', 'collector'] as const) {
      const runs = stale
        .filter((j) => workerOf(j.taskType) === service)
        .map((j) => ({ jobId: j.id, run: j.run }));
      if (runs.length === 0) continue;
      const { items } = await deps.rpc.call(jobOutcomes[service], { runs });
      const changed = await deps.ledger.apply(reportsFromOutcomes(items));
      finished += changed.length;
    }
    if (finished > 0) log.warn({ finished }, 'jobs finished from their workers’ records');
    return finished;
  }

  return {
    /** For tests: one pass now. */
    once,
    start(): void {
      timer = setInterval(() => {
        if (!deps.isLeader() || current) return;
        current = once()
          .then(() => undefined)
          .catch((err: unknown) =>
            log.warn({ err: err instanceof Error ? err.message : String(err) }, 'reconcile failed'),
          )
          .finally(() => (current = undefined));
      }, deps.everyMs);
      timer.unref();
    },
    async stop(): Promise<void> {
      if (timer) clearInterval(timer);
      await current;
    },
  };
}
