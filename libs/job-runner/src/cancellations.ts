import type { Logger } from 'pino';
import type { jobCancelRequested, QueueSpec } from '@psc/contracts';
import { createConsumer, type Broker, type Consumer } from '@psc/messaging';
import type { JobRunRepository } from './job-runs.ts';
import { runKey } from './runner.ts';

/**
 * Stores `job.cancel-requested` once for every replica of a worker service (the queue is shared,
 * the table is the service's): a run checks it between pages and, atomically, when it commits.
 */
export function createCancellationsConsumer(deps: {
  broker: Broker;
  queue: QueueSpec & { accepts: readonly [typeof jobCancelRequested] };
  runs: JobRunRepository;
  logger: Logger;
  retryTiersMs: readonly number[];
  isTransient: (err: unknown) => boolean;
  /** After the cancellation is stored: what else the run held goes (its booked platform turns). */
  onCancelled?: (runKey: string) => Promise<void>;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: deps.queue,
    logger: deps.logger,
    retryTiersMs: deps.retryTiersMs,
    isTransient: deps.isTransient,
    handler: async ({ payload }) => {
      await deps.runs.cancel(payload.jobId, payload.run, new Date(payload.at));
      await deps.onCancelled?.(runKey(payload.jobId, payload.run));
    },
  });
}
