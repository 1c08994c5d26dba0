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

/** What a summary is made of: a platform as the registry keeps it (credentials left out). */
interface Summarized {
  id: string;
  name: string;
  active: boolean;
  priority: number;
  version: number;
  baseUrl: string;
  schedule?: PlatformSummary['schedule'];
  resources: {
    name: string;
    tasks: PlatformSummary['resources'][number]['tasks'];
    schedule?: PlatformSummary['schedule'];
    params: string[];
  }[];
}

/**
 * A platform's summary: what its events carry, and what the scheduler compares its projection
 * with. One function on both sides, so a projection checked against the registry differs only
 * where it really does.
 */
export function summarizePlatform(p: Summarized): PlatformSummary {
  return {
    id: p.id,
    name: p.name,
    active: p.active,
    priority: p.priority,
    version: p.version,
    resources: p.resources.map((r) => ({
      name: r.name,
      tasks: r.tasks,
      ...(r.schedule ? { schedule: r.schedule } : {}),
      ...(r.params.length > 0 ? { params: r.params } : {}),
    })),
    // The scheduler's schedules and per-platform status need these (never credentials).
    baseUrl: p.baseUrl,
    ...(p.schedule ? { schedule: p.schedule } : {}),
  };
}

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
