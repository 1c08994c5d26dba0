import {
  EXCHANGES,
  QUEUES,
  jobFailed,
  jobProgressed,
  jobRequeued,
  jobStarted,
  jobSucceeded,
  type Envelope,
  type PayloadOf,
} from '@psc/contracts';
import type { Clock } from '@psc/core';
import {
  DeferError,
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
  const { correlationId } = envelope;
  switch (envelope.type) {
    case jobStarted.type: {
      const p = envelope.payload as PayloadOf<typeof jobStarted>;
      return {
        jobId: p.jobId,
        update: {
          attempt: p.attempt,
          phase: PHASE.started,
          status: 'running',
          at: new Date(p.at),
          correlationId,
        },
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
          correlationId,
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
          correlationId,
          error: p.error,
        },
      };
    }
  }
}

/**
 * How long an event of a replayed run waits for that replay's `job.requeued` (published before
 * the run, so normally already applied) before it is dropped; retried on the first tier meanwhile.
 */
const REQUEUE_WAIT_MS = 5 * 60_000;
const REQUEUE_RETRY_MS = 1_000;

/** Keeps the job ledger in step with the workers' `job.*` events. */
export function createJobEventsConsumer(deps: {
  broker: Broker;
  jobs: JobRepository;
  clock: Clock;
  /** Counts a scheduled run's outcome toward its schedule's `autoPauseAfterFailures`. */
  onFinished?: (jobId: string, failed: boolean) => Promise<void>;
  logger: Logger;
}): Consumer {
  const accepts = [jobStarted, jobProgressed, jobSucceeded, jobFailed, jobRequeued];
  const queue = QUEUES.schedulerJobEvents;
  return createConsumer({
    broker: deps.broker,
    queue,
    topology: mergeTopologies(
      baseTopology,
      workQueue({
        name: queue,
        bindings: accepts.map((m) => ({
          exchange: EXCHANGES.events,
          routingKey: m.type,
        })),
      }),
    ),
    accepts,
    logger: deps.logger,
    prefetch: 50,
    async handler(envelope, ctx) {
      if (envelope.type === jobProgressed.type) {
        const p = envelope.payload as PayloadOf<typeof jobProgressed>;
        const report = { attempt: p.attempt, correlationId: envelope.correlationId };
        await deps.jobs.applyProgress(p.jobId, report, p.progress);
        return;
      }
      if (envelope.type === jobRequeued.type) {
        const p = envelope.payload as PayloadOf<typeof jobRequeued>;
        const verdict = await deps.jobs.applyRequeue(p.jobId, {
          runId: p.runId,
          at: new Date(p.at),
        });
        ctx.logger.info({ jobId: p.jobId, verdict }, 'job requeued for replay');
        return;
      }
      const { jobId, update } = toLedgerUpdate(envelope);
      const outcome = await deps.jobs.applyEvent(jobId, update);
      if (outcome === 'wait') {
        if (deps.clock.now().getTime() - update.at.getTime() < REQUEUE_WAIT_MS)
          throw new DeferError(`job ${jobId}: waiting for the replay's requeue`, REQUEUE_RETRY_MS);
        ctx.logger.warn({ jobId, type: envelope.type }, 'event of a replay never requeued dropped');
        return;
      }
      if (outcome === 'applied' && update.phase === PHASE.finished && deps.onFinished)
        await deps.onFinished(
          jobId,
          update.status !== 'succeeded' && update.status !== 'cancelled',
        );
      if (outcome === 'ignored')
        ctx.logger.debug({ jobId, type: envelope.type }, 'stale or unknown job event ignored');
    },
  });
}
