import { QUEUE_SPECS } from '@psc/contracts';
import { createBatchConsumer, type Broker, type Consumer } from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { LedgerChange, LedgerStore } from '../../data-access/ledger.store.ts';

/**
 * Keeps the job ledger in step with the workers' reports: everything delivered while the
 * previous batch was being applied (or, when idle, within `lingerMs` of the first report) is
 * applied in one transaction and acked after its commit.
 * While the ledger's database is away the batch waits; it is never dead-lettered for that.
 */
export function createJobEventsConsumer(deps: {
  broker: Broker;
  ledger: LedgerStore;
  isTransient: (err: unknown) => boolean;
  /** Told of every job whose row changed, after the commit (metrics). */
  onChanged?: (changes: LedgerChange[]) => void;
  logger: Logger;
  prefetch?: number;
  /** See PSC_LEDGER_LINGER_MS. */
  lingerMs?: number;
}): Consumer {
  return createBatchConsumer({
    broker: deps.broker,
    queue: QUEUE_SPECS.schedulerJobEvents,
    logger: deps.logger,
    isTransient: deps.isTransient,
    ...(deps.prefetch ? { prefetch: deps.prefetch } : {}),
    ...(deps.lingerMs !== undefined ? { lingerMs: deps.lingerMs } : {}),
    async handleBatch(reports) {
      const changes = await deps.ledger.apply(reports);
      deps.onChanged?.(changes);
    },
  });
}
