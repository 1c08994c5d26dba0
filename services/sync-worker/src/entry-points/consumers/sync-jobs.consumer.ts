import { QUEUES, jobRun, type JobRun } from '@psc/contracts';
import {
  baseTopology,
  createConsumer,
  mergeTopologies,
  syncJobQueue,
  type Broker,
  type Consumer,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { SyncJob } from '../../domain/sync-job.ts';

export const syncJobsTopology = mergeTopologies(baseTopology, syncJobQueue);

export function createSyncJobsConsumer(deps: {
  broker: Broker;
  syncJob: SyncJob;
  logger: Logger;
  prefetch: number;
  maxAttempts: number;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUES.syncJobs,
    topology: syncJobsTopology,
    accepts: [jobRun],
    logger: deps.logger,
    prefetch: deps.prefetch,
    maxAttempts: deps.maxAttempts,
    handler: (envelope, ctx) =>
      deps.syncJob.run(envelope.payload as JobRun, {
        attempt: ctx.attempt,
        correlationId: envelope.correlationId,
      }),
    onFailure: (envelope, err, outcome, ctx) =>
      deps.syncJob.recordFailure(envelope.payload as JobRun, err, outcome, {
        attempt: ctx.attempt,
        correlationId: envelope.correlationId,
      }),
  });
}
