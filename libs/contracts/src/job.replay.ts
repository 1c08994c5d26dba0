import { z } from 'zod';
import { defineMessage } from './envelope.ts';

/** Correlation ids of replayed runs start with this, so the ledger can tell them apart. */
export const REPLAY_RUN_PREFIX = 'replay:';

/**
 * A finished job is run again under its own id (today: replayed from the dead-letter queue),
 * attempts counting from 1. The new `job.run`, and so every `job.*` event of the new run, has
 * `runId` as its envelope's correlationId; the ledger shows the job queued again and from then on
 * ignores events of earlier runs.
 */
export const jobRequeued = defineMessage(
  'job.requeued',
  1,
  z.object({
    jobId: z.uuid(),
    at: z.iso.datetime(),
    trigger: z.enum(['replay']),
    runId: z.string().startsWith(REPLAY_RUN_PREFIX).max(200),
  }),
);
export type JobRequeued = z.infer<typeof jobRequeued.payload>;
