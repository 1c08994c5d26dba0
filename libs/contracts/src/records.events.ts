import { z } from 'zod';
import { defineMessage } from './envelope.ts';

export const RECORD_CHANGE_KINDS = ['inserted', 'updated', 'deleted'] as const;

/**
 * One batch of record changes a sync committed: keys and kinds only, never bodies, so followers
 * read what they need through the records API. `resource` is `<resource>` or `<resource>.<child>`.
 */
export const recordsChanged = defineMessage(
  'records.changed',
  1,
  z.object({
    jobId: z.uuid(),
    platformId: z.uuid(),
    resource: z.string().min(1),
    changes: z
      .array(
        z.object({
          key: z.string(),
          parentKey: z.string().optional(),
          kind: z.enum(RECORD_CHANGE_KINDS),
        }),
      )
      .min(1)
      .max(1_000),
  }),
);
export type RecordsChanged = z.infer<typeof recordsChanged.payload>;
