import { z } from 'zod';
import { defineRpc } from './rpc.ts';

export const EXPORT_FORMATS = ['jsonl', 'csv'] as const;

/**
 * One page of an export, rendered by the sync-worker that owns the records: the gateway passes
 * `text` through as it is, so exporting 1,000,000 records never builds a record object in the
 * gateway (issue 6: its RSS stays under 200 MB). A page ends early when its text reaches the
 * byte budget, so a reply stays well under the broker's message size cap.
 */
export const recordsExport = defineRpc(
  'sync-worker',
  'records.export',
  z.object({
    platformId: z.uuid(),
    resource: z.string().min(1).max(200),
    format: z.enum(EXPORT_FORMATS),
    /** CSV columns after `key`, in order: the resource's mapped fields. */
    columns: z.array(z.string().min(1).max(200)).max(500).default([]),
    cursor: z.string().max(500).optional(),
    limit: z.number().int().min(1).max(5_000).default(1_000),
  }),
  z.object({
    /** Whole lines, each ending in `\n`; a CSV export's first page starts with the header. */
    text: z.string(),
    count: z.number().int(),
    nextCursor: z.string().nullable(),
  }),
);
