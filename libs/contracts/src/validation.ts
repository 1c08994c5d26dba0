import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { defineRpc } from './rpc.ts';
import { page, pageRequest } from './record.ts';

const count = z.number().int().nonnegative();

/** A validate run's finding: platform vs stored records, items capped, counts exact. */
export const driftReport = z.object({
  jobId: z.uuid(),
  platformId: z.uuid(),
  resource: z.string(),
  at: z.iso.datetime(),
  drift: z.boolean(),
  counts: z.object({ fetched: count, missing: count, extra: count, changed: count }),
  /** On the platform, not stored. */
  missing: z.array(z.object({ key: z.string(), data: z.record(z.string(), z.unknown()) })),
  /** Stored, gone from the platform. */
  extra: z.array(z.object({ key: z.string(), data: z.record(z.string(), z.unknown()) })),
  changed: z.array(
    z.object({
      key: z.string(),
      fields: z.array(z.object({ field: z.string(), old: z.unknown(), new: z.unknown() })),
    }),
  ),
});
export type DriftReport = z.infer<typeof driftReport>;

export const driftSummary = driftReport.pick({
  jobId: true,
  platformId: true,
  resource: true,
  at: true,
  drift: true,
  counts: true,
});

export const validationDriftDetected = defineMessage(
  'validation.drift_detected',
  1,
  z.object({
    jobId: z.uuid(),
    platformId: z.uuid(),
    resource: z.string(),
    counts: driftReport.shape.counts,
    /** The resource heals itself: a sync was asked for. */
    autoHeal: z.boolean(),
  }),
);

export const validationList = defineRpc(
  'sync-worker',
  'validation.list',
  z.object({
    platformId: z.uuid().optional(),
    resource: z.string().min(1).max(200).optional(),
    ...pageRequest,
  }),
  page(driftSummary),
);
export const validationGet = defineRpc(
  'sync-worker',
  'validation.get',
  z.object({ jobId: z.uuid() }),
  driftReport,
);
