import { z } from 'zod';
import { defineRpc } from './rpc.ts';

/**
 * What an import's items are: `upstream`, items as the platform sends them (seed 001's JSON-file
 * migration), mapped like a sync; `records`, an export's own lines (`{"key", <mapped fields>}`),
 * stored as they are.
 */
export const IMPORT_SHAPES = ['upstream', 'records'] as const;

/** A batch of items, mapped (or taken as records) and upserted like a sync. */
export const recordsImport = defineRpc(
  'sync-worker',
  'records.import',
  z.object({
    platformId: z.uuid(),
    resource: z.string().min(1).max(200),
    shape: z.enum(IMPORT_SHAPES).default('upstream'),
    items: z.array(z.object({ line: z.number().int().positive(), item: z.unknown() })).max(5_000),
  }),
  z.object({
    inserted: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    errors: z.array(z.object({ line: z.number().int(), message: z.string() })),
  }),
);
