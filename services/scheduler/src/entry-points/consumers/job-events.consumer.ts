import {
  EXCHANGES,
  QUEUES,
  jobFailed,
  jobStarted,
  jobSucceeded,
  type Envelope,
  type PayloadOf,
} from '@psc/contracts';
import {
  createConsumer,
  mergeTopologies,
  baseTopology,
  workQueue,
  type Broker,
  type Consumer,
} from '@psc/messaging';
import type { Logger } from '@psc/telemetry';
import type { EventUpdate, JobRepository } from '../../data-access/job.repository.ts';
import { PHASE } from '../../domain/job-transitions.ts';

export function toLedgerUpdate(envelope: Envelope<unknown>): {
  jobId: string;
  update: EventUpdate;
} {
  switch (envelope.type) {
    case jobStarted.type: {
      const p = envelope.payload as PayloadOf<typeof jobStarted>;
      return {
        jobId: p.jobId,
        update: { attempt: p.attempt, phase: PHASE.started, status: 'running', at: new Date(p.at) },
      };
    }
    case jobSucceeded.type: {
      const p = envelope.payload as PayloadOf<typeof jobSucceeded>;
      return {
        jobId: p.jobId,
        update: {
          attempt: p.attempt,
          phase: PHASE.finished,
          status: 'succeeded',
          at: new Date(p.at),
          stats: p.stats,
          error: null,
        },
      };
    }
    default: {
      const p = envelope.payload as PayloadOf<typeof jobFailed>;
      const retrying = p.outcome === 'retrying';
      return {
        jobId: p.jobId,
        update: {
          attempt: p.attempt,
          phase: retrying ? PHASE.retrying : PHASE.finished,
          status: p.outcome,
          at: new Date(p.at),
          error: p.error,
        },
      };
    }
  }
}

/** Keeps the job ledger in step with the workers' `job.*` events. */
export function createJobEventsConsumer(deps: {
  broker: Broker;
  jobs: JobRepository;
  logger: Logger;
}): Consumer {
  const queue = QUEUES.schedulerJobEvents;
  return createConsumer({
    broker: deps.broker,
    queue,
    topology: mergeTopologies(
      baseTopology,
      workQueue({
        name: queue,
        bindings: [jobStarted, jobSucceeded, jobFailed].map((m) => ({
          exchange: EXCHANGES.events,
          routingKey: m.type,
        })),
      }),
    ),
    accepts: [jobStarted, jobSucceeded, jobFailed],
    logger: deps.logger,
    prefetch: 50,
    async handler(envelope, ctx) {
      const { jobId, update } = toLedgerUpdate(envelope);
      const applied = await deps.jobs.applyEvent(jobId, update);
      if (!applied)
        ctx.logger.debug({ jobId, type: envelope.type }, 'stale or unknown job event ignored');
    },
  });
}
