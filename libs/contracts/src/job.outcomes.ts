import { z } from 'zod';
import { defineRpc } from './rpc.ts';
import { jobStats } from './job.ts';

const request = z.object({
  runs: z.array(z.object({ jobId: z.uuid(), run: z.number().int().positive() })).max(500),
});
const response = z.object({
  items: z.array(
    z.object({
      jobId: z.uuid(),
      run: z.number().int().positive(),
      attempt: z.number().int().positive(),
      /** `continues`: a fan-out whose children are still running. */
      status: z.enum(['succeeded', 'failed', 'continues']),
      stats: jobStats.nullable(),
      at: z.iso.datetime(),
    }),
  ),
});

/**
 * What a worker service recorded of job runs (its `job_runs`): the ledger asks for jobs that
 * have been open for long, so a run whose outcome report never arrived is still finished.
 * Runs it never finished are absent.
 */
export const jobOutcomes = {
  'sync-worker': defineRpc('sync-worker', 'job.outcomes', request, response, ['scheduler']),
  collector: defineRpc('collector', 'job.outcomes', request, response, ['scheduler']),
} as const;
