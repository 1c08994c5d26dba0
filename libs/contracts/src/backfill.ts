import { z } from 'zod';
import { defineRpc } from './rpc.ts';
import { jobParams } from './job.ts';
import { page, pageRequest } from './record.ts';
import { TASK_TYPES } from './topology.ts';

/** How far apart a backfill's runs are: one run per step of its range. */
export const BACKFILL_STEPS = ['hour', 'day', 'week', 'month'] as const;
export type BackfillStep = (typeof BACKFILL_STEPS)[number];

/** A backfill covers at most this many steps (≈ 2.7 years of days): its rows are bounded. */
export const MAX_BACKFILL_STEPS = 1_000;

/** `2024-05-01` (the start of that day in `timezone`) or a full ISO date-time. */
const moment = z.union([z.iso.date(), z.iso.datetime({ offset: true })]);

/**
 * Runs a task over a past range: one job per step (a day by default) from `from` to `to`
 * (both included), each with `paramsTemplate` filled in for its step (`{{date:yyyyMMdd}}`), at
 * most `maxConcurrent` of them open at a time. A step that already has a run — from an earlier
 * backfill of the same range, or a schedule that fired at that instant — is not run again.
 */
export const backfillRequest = z.strictObject({
  platformId: z.uuid(),
  resource: z.string().min(1).max(100),
  taskType: z.preprocess((v) => (v === 'valid' ? 'validate' : v), z.enum(TASK_TYPES)),
  from: moment,
  to: moment,
  step: z.enum(BACKFILL_STEPS).default('day'),
  timezone: z.string().min(1).max(64).default('UTC'),
  paramsTemplate: jobParams.default({}),
  maxConcurrent: z.number().int().min(1).max(100).default(2),
  priority: z.number().int().min(1).max(9).optional(),
});
export type BackfillRequest = z.infer<typeof backfillRequest>;

export const BACKFILL_STATUSES = ['running', 'succeeded', 'failed', 'cancelled'] as const;

const count = z.number().int().nonnegative();

export const backfill = z.object({
  id: z.uuid(),
  platformId: z.uuid(),
  resource: z.string(),
  taskType: z.enum(TASK_TYPES),
  from: z.iso.datetime(),
  to: z.iso.datetime(),
  step: z.enum(BACKFILL_STEPS),
  timezone: z.string(),
  paramsTemplate: z.record(z.string(), z.unknown()),
  maxConcurrent: z.number().int(),
  priority: z.number().int(),
  /**
   * `running` while a step is not yet run or a run is open; then `succeeded` when every run
   * succeeded, else `failed` (a replayed run that succeeds turns it back). `cancelled` stays.
   */
  status: z.enum(BACKFILL_STATUSES),
  progress: z.object({
    steps: count,
    /** Not yet enqueued (waiting for a free slot). */
    pending: count,
    queued: count,
    running: count,
    /** `retrying` or `waiting` (held by a breaker). */
    waiting: count,
    succeeded: count,
    failed: count,
    dead: count,
    cancelled: count,
    /** Runs that finished so long ago that the ledger no longer keeps them. */
    purged: count,
  }),
  cancelReason: z.string().nullable(),
  createdAt: z.iso.datetime(),
  /** When it ended: when it was cancelled, else when its last run ended; null while running. */
  finishedAt: z.iso.datetime().nullable(),
});
export type Backfill = z.infer<typeof backfill>;

export const backfillCreate = defineRpc('scheduler', 'backfill.create', backfillRequest, backfill);
export const backfillGet = defineRpc(
  'scheduler',
  'backfill.get',
  z.object({ id: z.uuid() }),
  backfill,
);
export const backfillList = defineRpc(
  'scheduler',
  'backfill.list',
  z.object({ platformId: z.uuid().optional(), ...pageRequest }),
  page(backfill),
);
export const backfillCancel = defineRpc(
  'scheduler',
  'backfill.cancel',
  z.object({ id: z.uuid(), reason: z.string().trim().min(1).max(500).optional() }),
  backfill,
);
