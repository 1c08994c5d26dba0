import { QUEUES, collectChild, jobRun, type CollectChild, type JobRun } from '@psc/contracts';
import {
  baseTopology,
  createConsumer,
  collectJobQueue,
  mergeTopologies,
  type Broker,
  type Consumer,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { CollectJob } from '../../domain/collect-job.ts';

export const collectJobsTopology = mergeTopologies(baseTopology, collectJobQueue);

/**
 * `collector.jobs` carries collect runs (`job.run`) and fan-out children (`collect.child`), each
 * with its own retries and dead-letter path. `active` holds the ids being worked on (heartbeats).
 */
export function createCollectJobsConsumer(deps: {
  broker: Broker;
  collectJob: CollectJob;
  logger: Logger;
  prefetch: number;
  maxAttempts: number;
  active: Set<string>;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUES.collectorJobs,
    topology: collectJobsTopology,
    accepts: [jobRun, collectChild],
    logger: deps.logger,
    prefetch: deps.prefetch,
    maxAttempts: deps.maxAttempts,
    async handler(envelope, ctx) {
      const jobCtx = { attempt: ctx.attempt, correlationId: envelope.correlationId };
      const id = envelope.id;
      deps.active.add(id);
      try {
        if (envelope.type === collectChild.type) {
          await deps.collectJob.runChild(envelope.payload as CollectChild, jobCtx);
        } else {
          await deps.collectJob.run(envelope.payload as JobRun, jobCtx);
        }
      } finally {
        deps.active.delete(id);
      }
    },
    onFailure(envelope, err, outcome, ctx) {
      const jobCtx = { attempt: ctx.attempt, correlationId: envelope.correlationId };
      return envelope.type === collectChild.type
        ? deps.collectJob.childFailed(envelope.payload as CollectChild, err, outcome, jobCtx)
        : deps.collectJob.recordFailure(envelope.payload as JobRun, err, outcome, jobCtx);
    },
  });
}
