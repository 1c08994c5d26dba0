import type { Registry } from 'prom-client';
import { PSC_METRICS, registerCatalogMetric } from './metric-catalog.ts';

/**
 * A worker's job metrics (`psc_jobs_active`, `psc_job_duration_seconds`), shaped for the job
 * runner: it tells when an attempt starts and ends, and how long it ran when it counts as one
 * (a deferral by an open breaker is no attempt).
 */
export function createJobMetrics(registry: Registry, taskTypes: readonly string[]) {
  const active = registerCatalogMetric(registry, PSC_METRICS.jobsActive);
  const duration = registerCatalogMetric(registry, PSC_METRICS.jobDuration);
  // Exported at 0 from start-up, so "no jobs running" is a value, not a missing series.
  for (const taskType of taskTypes) active.set({ task_type: taskType }, 0);
  return {
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
