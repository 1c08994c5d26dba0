import type { JobStats } from '@psc/contracts';
import type { JobReport } from './job-ledger.ts';

export interface RecordedOutcome {
  jobId: string;
  run: number;
  attempt: number;
  status: 'succeeded' | 'failed' | 'continues';
  stats: JobStats | null;
  at: string;
}

/**
 * The reports a worker's own record of a run stands for: a run it committed as succeeded or
 * failed ends the job as if the outcome report had arrived (it did not, or not yet). A fan-out
 * still running (`continues`) says nothing.
 */
export function reportsFromOutcomes(outcomes: readonly RecordedOutcome[]): JobReport[] {
  return outcomes.flatMap((o): JobReport[] => {
    const base = { jobId: o.jobId, run: o.run, attempt: o.attempt, at: o.at };
    if (o.status === 'succeeded') {
      const stats = o.stats ?? { fetched: 0, inserted: 0, updated: 0, unchanged: 0 };
      return [{ type: 'job.succeeded', payload: { ...base, stats } }];
    }
    if (o.status === 'failed') {
      return [
        {
          type: 'job.failed',
          payload: {
            ...base,
            outcome: 'failed',
            error: {
              class: 'failed',
              message: 'the worker recorded this run as failed (its report was not received)',
            },
          },
        },
      ];
    }
    return [];
  });
}
