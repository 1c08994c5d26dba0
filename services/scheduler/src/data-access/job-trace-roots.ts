import type { Knex } from 'knex';
import type { Job } from '@psc/contracts';
import { startSpanInTrace, type SpanInTrace } from '@psc/telemetry';

/**
 * Spans for jobs whose run starts here outside any request of theirs (a tick's runs, a
 * backfill's steps, a replay): each the root of its job's trace, the one its record names,
 * linked to the span active now (the tick's, the replay request's). Each job's `job.run` goes
 * under its span, so the trace is one tree from the first span on. Nothing when tracing is off.
 */
export function jobTraceRoots(name: string, jobs: readonly Job[]) {
  const spans = new Map<string, SpanInTrace>();
  for (const job of jobs) {
    if (!job.traceId) continue;
    const span = startSpanInTrace(
      `${name} ${job.taskType}`,
      { traceId: job.traceId },
      { 'psc.job.id': job.id, 'psc.platform.id': job.platformId, 'psc.resource': job.resource },
    );
    if (span.traceparent) spans.set(job.id, span);
  }
  return {
    /** The `traceparent` of the job's span, to publish its `job.run` under. */
    parentOf: (jobId: string): string | undefined => spans.get(jobId)?.traceparent,
    /**
     * Ends (exports) the spans once `trx` commits. A rollback drops them: the runs are written
     * again later under the same trace ids (a plan made ahead, a job run again), and an exported
     * span of a run that never happened would be a second root in its job's trace.
     */
    endOnCommit(trx: Knex.Transaction): void {
      trx.executionPromise.then(
        () => {
          for (const span of spans.values()) span.end();
        },
        () => undefined,
      );
    },
  };
}
