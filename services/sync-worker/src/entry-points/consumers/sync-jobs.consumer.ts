import { EXCHANGES, QUEUES, jobCancelRequested, jobRun, type JobRun } from '@psc/contracts';
import {
  baseTopology,
  createConsumer,
  mergeTopologies,
  syncJobQueueWithRetries,
  workQueue,
  type Broker,
  type Consumer,
  type Topology,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { CancellationRepository } from '../../data-access/cancellation.repository.ts';
import type { SyncJob } from '../../domain/sync-job.ts';

/** The job queue with this worker's retry tiers, and the cancellation queue. */
export function syncWorkerTopology(retryTiersMs: readonly number[]): Topology {
  return mergeTopologies(
    baseTopology,
    syncJobQueueWithRetries(retryTiersMs),
    workQueue({
      name: QUEUES.syncWorkerCancellations,
      bindings: [{ exchange: EXCHANGES.events, routingKey: jobCancelRequested.type }],
      retryTiersMs,
    }),
  );
}

export function createSyncJobsConsumer(deps: {
  broker: Broker;
  topology: Topology;
  syncJob: SyncJob;
  logger: Logger;
  prefetch: number;
  maxAttempts: number;
  retryTiersMs: readonly number[];
  /** Ids of the jobs being worked on (heartbeats). */
  active: Set<string>;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUES.syncJobs,
    topology: deps.topology,
    accepts: [jobRun],
    logger: deps.logger,
    prefetch: deps.prefetch,
    maxAttempts: deps.maxAttempts,
    retryTiersMs: deps.retryTiersMs,
    async handler(envelope, ctx) {
      const job = envelope.payload as JobRun;
      deps.active.add(job.jobId);
      try {
        await deps.syncJob.run(job, {
          attempt: ctx.attempt,
          correlationId: envelope.correlationId,
        });
      } finally {
        deps.active.delete(job.jobId);
      }
    },
    onFailure: (envelope, err, outcome, ctx) =>
      deps.syncJob.recordFailure(envelope.payload as JobRun, err, outcome, {
        attempt: ctx.attempt,
        correlationId: envelope.correlationId,
      }),
  });
}

/** Stores cancellations; the job loop (on whichever replica runs the job) checks them per page. */
export function createCancellationsConsumer(deps: {
  broker: Broker;
  topology: Topology;
  cancellations: CancellationRepository;
  logger: Logger;
  retryTiersMs: readonly number[];
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUES.syncWorkerCancellations,
    topology: deps.topology,
    accepts: [jobCancelRequested],
    logger: deps.logger,
    prefetch: 10,
    retryTiersMs: deps.retryTiersMs,
    handler: async (envelope) => {
      const { jobId, at } = envelope.payload as { jobId: string; at: string };
      await deps.cancellations.add(jobId, new Date(at));
    },
  });
}
