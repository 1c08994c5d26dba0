import { z } from 'zod';

export const syncedRecord = z.object({
  key: z.string(),
  data: z.record(z.string(), z.unknown()),
  updatedAt: z.iso.datetime(),
  /** Child records (`<resource>.<child>`) name their parent's key. */
  parentKey: z.string().optional(),
  /** Set on records a full sync no longer found (soft delete); listed only on request. */
  deletedAt: z.iso.datetime().nullable().optional(),
});
export type SyncedRecord = z.infer<typeof syncedRecord>;

export const page = <T extends z.ZodType>(item: T) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable() });

export const pageRequest = {
  cursor: z.string().max(500).optional(),
  limit: z.coerce.number().int().min(1).max(500).default(50),
};
