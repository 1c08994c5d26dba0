import type { Registry } from 'prom-client';
import { PSC_METRICS, registerCatalogMetric } from './metric-catalog.ts';

/** A consumer whose hand-backs are counted: its queue, and its `handed-back` events. */
interface HandingBack {
  readonly queue: string;
  on(event: 'handed-back', listener: () => void): unknown;
}

/**
 * A worker's job metrics (`psc_jobs_active`, `psc_job_duration_seconds`), shaped for the job
 * runner: it tells when an attempt starts and ends, and how long it ran when it counts as one
 * (a deferral by an open breaker is no attempt); and `psc_jobs_handed_back_total` of its
 * consumers.
 */
export function createJobMetrics(registry: Registry, taskTypes: readonly string[]) {
  const active = registerCatalogMetric(registry, PSC_METRICS.jobsActive);
  const duration = registerCatalogMetric(registry, PSC_METRICS.jobDuration);
  const handedBack = registerCatalogMetric(registry, PSC_METRICS.jobsHandedBack);
  // Exported at 0 from start-up, so "no jobs running" is a value, not a missing series.
  for (const taskType of taskTypes) active.set({ task_type: taskType }, 0);
  return {
    /** Counts the deliveries `consumer` puts back in its queue, from 0 at start-up. */
    countHandBacks(consumer: HandingBack): void {
      handedBack.inc({ queue: consumer.queue }, 0);
      consumer.on('handed-back', () => handedBack.inc({ queue: consumer.queue }));
    },
    attemptStarted(taskType: string): void {
      active.inc({ task_type: taskType });
    },
    attemptEnded(taskType: string, seconds: number | undefined): void {
      active.dec({ task_type: taskType });
      if (seconds !== undefined) duration.observe({ task_type: taskType }, seconds);
    },
  };
}

export type JobMetrics = ReturnType<typeof createJobMetrics>;
