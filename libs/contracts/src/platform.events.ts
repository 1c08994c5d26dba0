import { z } from 'zod';
import { defineMessage } from './envelope.ts';
import { TASK_TYPES } from './topology.ts';
import { scheduleOverrides } from './schedule.ts';

/** What other services learn about a platform: never credentials. */
export const platformSummary = z.object({
  id: z.uuid(),
  name: z.string(),
  active: z.boolean(),
  priority: z.number().int().min(1).max(9),
  version: z.number().int().positive(),
  resources: z.array(
    z.object({
      name: z.string(),
      tasks: z.array(z.enum(TASK_TYPES)),
      schedule: scheduleOverrides.optional(),
      /**
       * The params a collect run of it must be given, so the scheduler refuses a run without
       * them (added later; absent from an older registry's summaries, and when there are none).
       */
      params: z.array(z.string()).optional(),
    }),
  ),
  /** For the scheduler's schedules and per-platform status (added after v1; optional). */
  baseUrl: z.string().optional(),
  schedule: scheduleOverrides.optional(),
});
export type PlatformSummary = z.infer<typeof platformSummary>;

export const platformRegistered = defineMessage(
  'platform.registered',
  1,
  z.object({ platform: platformSummary }),
);
export const platformUpdated = defineMessage(
  'platform.updated',
  1,
  z.object({ platform: platformSummary }),
);
export const platformDeleted = defineMessage(
  'platform.deleted',
  1,
  z.object({ platformId: z.uuid(), version: z.number().int().positive() }),
);
