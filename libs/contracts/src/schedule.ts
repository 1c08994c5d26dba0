import { z } from 'zod';
import { jobParams } from './job.ts';

/**
 * When and how a task runs on its own. Either `intervalSeconds` or `cron` (5 or 6 fields, in
 * `timezone`). A resource's schedule overrides its platform's, which overrides the task type's
 * config in the scheduler. The scheduler validates cron and timezone semantics (422 naming the
 * field); this schema checks shape only.
 */
export const scheduleSpec = z.strictObject({
  enabled: z.boolean().optional(),
  intervalSeconds: z.number().int().min(1).max(31_536_000).optional(),
  cron: z.string().min(9).max(200).optional(),
  timezone: z.string().min(1).max(64).optional(),
  priority: z.number().int().min(1).max(9).optional(),
  jitterSeconds: z.number().int().min(0).max(86_400).optional(),
  overlap: z.enum(['skip', 'enqueue']).optional(),
  misfire: z.enum(['run_once', 'skip']).optional(),
  autoPauseAfterFailures: z.number().int().min(1).max(1_000).optional(),
  /**
   * The params of each run, with placeholders such as `{{date:yyyyMMdd}}` filled in (in
   * `timezone`) when the run is made; see docs/SCHEDULING.md.
   */
  params: jobParams.optional(),
});
export type ScheduleSpec = z.infer<typeof scheduleSpec>;

/** Per task type overrides, e.g. `{ "sync": { "intervalSeconds": 300 } }`. */
export const scheduleOverrides = z.strictObject({
  sync: scheduleSpec.optional(),
  validate: scheduleSpec.optional(),
  collect: scheduleSpec.optional(),
});
export type ScheduleOverrides = z.infer<typeof scheduleOverrides>;
