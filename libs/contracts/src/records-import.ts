import { z } from 'zod';
import { defineRpc } from './rpc.ts';

/** A batch of upstream items (seed 001's JSON-file migration), mapped and upserted like a sync. */
export const recordsImport = defineRpc(
  'sync-worker',
  'records.import',
  z.object({
    platformId: z.uuid(),
    resource: z.string().min(1).max(200),
    items: z.array(z.object({ line: z.number().int().positive(), item: z.unknown() })).max(5_000),
  }),
  z.object({
    inserted: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    errors: z.array(z.object({ line: z.number().int(), message: z.string() })),
  }),
);
