import { EXCHANGES, QUEUES, jobFailed, jobRun, type JobRun } from '@psc/contracts';
import { NonRetryableError, type Clock } from '@psc/core';
import {
  baseTopology,
  createConsumer,
  createEnvelope,
  collectJobQueue,
  mergeTopologies,
  type Broker,
  type Consumer,
  type Outbox,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';

export const collectJobsTopology = mergeTopologies(baseTopology, collectJobQueue);

/**
 * The collector joins the topology and owns its queue; collection itself lands with the
 * collector issue. Until then a collect job fails visibly instead of waiting forever.
 */
export function createCollectJobsConsumer(deps: {
  broker: Broker;
  outbox: Outbox;
  logger: Logger;
  prefetch: number;
  clock: Clock;
}): Consumer {
  return createConsumer({
    broker: deps.broker,
    queue: QUEUES.collectorJobs,
    topology: collectJobsTopology,
    accepts: [jobRun],
    logger: deps.logger,
    prefetch: deps.prefetch,
    handler: () =>
      Promise.reject(
        new NonRetryableError('unsupported_task', 'collect jobs are not supported yet'),
      ),
    onFailure: (envelope, err, _outcome, ctx) =>
      deps.outbox.transaction((_trx, emit) => {
        const job = envelope.payload as JobRun;
        emit({
          exchange: EXCHANGES.events,
          routingKey: jobFailed.type,
          envelope: createEnvelope(
            jobFailed,
            {
              jobId: job.jobId,
              attempt: ctx.attempt,
              at: deps.clock.now().toISOString(),
              error: { message: (err as Error).message, class: 'unsupported_task' },
              outcome: 'failed',
            },
            { correlationId: envelope.correlationId, now: deps.clock.now() },
          ),
        });
      }),
  });
}
