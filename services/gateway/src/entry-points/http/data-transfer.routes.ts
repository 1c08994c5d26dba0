import { Readable } from 'node:stream';
import Router from '@koa/router';
import { z } from 'zod';
import {
  EXPORT_FORMATS,
  IMPORT_SHAPES,
  platformGet,
  recordsExport,
  recordsImport,
  storedCollection,
} from '@psc/contracts';
import { AppError, NotFoundError } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import { discardRest } from '@psc/http';
import { PLATFORM_ID } from './api-schemas.ts';
import { dataParams } from './data.routes.ts';
import { importItems, type ImportError } from './import-stream.ts';
import { operation, route } from './operation.ts';

const exportQuery = z.object({
  format: z.enum(EXPORT_FORMATS).default('jsonl').meta({ description: 'JSON lines or CSV' }),
});
const importQuery = z.object({
  platformId: z.uuid().meta({ description: 'Platform id', example: PLATFORM_ID }),
  resource: z.string().min(1).max(200).meta({ description: 'Resource to import into' }),
  shape: z.enum(IMPORT_SHAPES).default('upstream').meta({
    description:
      '`upstream`: items as the platform sends them, mapped like a sync; `records`: an export’s JSONL lines (`{"key", <mapped fields>}`), stored as they are',
  }),
});
const ImportSummary = z
  .object({
    imported: z.number().int().nonnegative(),
    inserted: z.number().int().nonnegative(),
    updated: z.number().int().nonnegative(),
    unchanged: z.number().int().nonnegative(),
    failed: z.number().int().nonnegative(),
    errors: z.array(z.object({ line: z.number().int().positive(), message: z.string() })),
  })
  .meta({
    id: 'ImportSummary',
    example: { imported: 2, inserted: 2, updated: 0, unchanged: 0, failed: 0, errors: [] },
  });
const item = z.record(z.string(), z.unknown()).meta({ example: { boothName: 'Booth 1' } });

export const dataTransferOperations = {
  export: operation({
    method: 'get',
    path: '/data/:platformId/:resource/export',
    operationId: 'exportRecords',
    summary: 'Every record of a resource, streamed as JSON lines or CSV',
    description:
      'CSV columns: `key` and the mapping’s fields; text as is, `true`/`false`, nested values as JSON, empty when absent, quoted per RFC 4180.',
    tag: 'data',
    role: 'viewer',
    params: dataParams,
    query: exportQuery,
    responses: {
      200: {
        description: 'The records, one per line (CSV: after a header line)',
        content: {
          'application/x-ndjson': z
            .string()
            .meta({ example: '{"key":"Booth 1","data":{"name":"Booth 1"}}\n' }),
          'text/csv': z.string().meta({ example: 'key,name\nBooth 1,Booth 1\n' }),
        },
      },
    },
    errors: [404],
  }),
  import: operation({
    method: 'post',
    path: '/imports',
    operationId: 'importRecords',
    summary: 'Map and upsert upstream-shaped items into a resource, like a sync',
    description:
      'JSON lines (`application/x-ndjson`) or a JSON array, both streamed with no limit on the body: each line or array item is at most `PSC_IMPORT_MAX_ITEM_BYTES` (a longer line is reported and skipped; a larger array item ends the import with 413). Good lines are stored even when others fail: 422 `import_incomplete` counts every failure in `failed` and lists the first 1,000 in `errors`.',
    tag: 'data',
    role: 'operator',
    query: importQuery,
    rawBody: {
      'application/x-ndjson': z.string().meta({ example: '{"boothName":"Booth 1"}\n' }),
      'application/json': z.array(item),
    },
    responses: { 200: { description: 'What was stored', schema: ImportSummary } },
    errors: [400, 404, 413],
  }),
};
type ExportFormat = (typeof EXPORT_FORMATS)[number];
/** Items per import RPC: well under the broker's 1 MiB message cap for ordinary records. */
const IMPORT_BATCH_ITEMS = 200;
const IMPORT_BATCH_BYTES = 512 * 1024;
const EXPORT_PAGE = 1_000;

/**
 * Streams an export page by page as the client reads: a Readable built from an async generator
 * is pulled only when the socket drains, so one page (at most ~200 KB of text, rendered by the
 * sync-worker that owns the records) is in the gateway at a time, whatever the record count.
 */
function exportStream(
  rpc: RpcClient<'gateway'>,
  p: { platformId: string; resource: string },
  format: ExportFormat,
  columns: string[],
): Readable {
  async function* pages(): AsyncGenerator<string> {
    let cursor: string | undefined;
    do {
      const page = await rpc.call(recordsExport, {
        ...p,
        format,
        columns,
        limit: EXPORT_PAGE,
        ...(cursor ? { cursor } : {}),
      });
      if (page.text) yield page.text;
      cursor = page.nextCursor ?? undefined;
    } while (cursor);
  }
  return Readable.from(pages(), { objectMode: false, highWaterMark: 1 });
}

/** The stored collection an import writes to; a 404 when the platform or resource does not exist. */
async function importTarget(
  rpc: RpcClient<'gateway'>,
  target: { platformId: string; resource: string },
): Promise<void> {
  const platform = await rpc.call(platformGet, { id: target.platformId });
  if (!storedCollection(platform.resources, target.resource)) {
    throw new NotFoundError(`platform ${platform.name} has no resource ${target.resource}`);
  }
}

/** Errors an import reports line by line; the rest are only counted (a body of millions of bad lines stays small). */
const MAX_REPORTED_ERRORS = 1_000;

interface ImportTotals {
  inserted: number;
  updated: number;
  unchanged: number;
  failed: number;
  errors: ImportError[];
}

export function dataTransferRoutes(
  rpc: RpcClient<'gateway'>,
  options: { importMaxItemBytes: number },
): Router {
  const router = new Router({ prefix: '/api/v1' });
  route(router, dataTransferOperations.export, async (ctx, { params: p, query: { format } }) => {
    const platform = await rpc.call(platformGet, { id: p.platformId });
    // Checked before the first byte: once streaming, an error could only cut the download short.
    const collection = storedCollection(platform.resources, p.resource);
    if (!collection) {
      throw new NotFoundError(`platform ${platform.name} has no resource ${p.resource}`);
    }
    const columns = Object.keys(collection.mapping);
    // Koa's attachment() quotes and escapes the name (RFC 6266, `filename*` for non-ASCII): a
    // resource name from the URL cannot inject header parameters.
    ctx.attachment(`${platform.name}-${p.resource}.${format}`, { fallback: true });
    ctx.type = format === 'csv' ? 'text/csv; charset=utf-8' : 'application/x-ndjson';
    ctx.body = exportStream(rpc, p, format, columns);
  });

  // Mounted outside the JSON body parser: the body is streamed, JSONL or a JSON array.
  route(router, dataTransferOperations.import, async (ctx, { query: target }) => {
    const isArray = Boolean(ctx.request.is('application/json', 'application/*+json'));
    const totals: ImportTotals = { inserted: 0, updated: 0, unchanged: 0, failed: 0, errors: [] };
    const failed = (error: ImportError): void => {
      totals.failed += 1;
      if (totals.errors.length < MAX_REPORTED_ERRORS) totals.errors.push(error);
    };
    let batch: { line: number; item: unknown }[] = [];
    let batchBytes = 0;
    const flush = async (): Promise<void> => {
      if (batch.length === 0) return;
      const result = await rpc.call(
        recordsImport,
        { ...target, items: batch },
        { timeoutMs: 30_000 },
      );
      totals.inserted += result.inserted;
      totals.updated += result.updated;
      totals.unchanged += result.unchanged;
      result.errors.forEach(failed);
      batch = [];
      batchBytes = 0;
    };
    try {
      for await (const { line, item, size } of importItems(
        // Not destroyed when the import stops early: that would reset the connection before the
        // client reads the error.
        ctx.req.iterator({ destroyOnReturn: false }),
        isArray,
        options.importMaxItemBytes,
        failed,
      )) {
        batch.push({ line, item });
        batchBytes += size;
        if (batch.length >= IMPORT_BATCH_ITEMS || batchBytes >= IMPORT_BATCH_BYTES) await flush();
      }
    } catch (err) {
      // What was read before a body-ending error (an array item over the bound, bad JSON) is
      // stored, as the error says.
      await flush();
      await discardRest(ctx.req);
      throw err;
    }
    await flush();
    if (totals.inserted + totals.updated + totals.unchanged + totals.failed === 0) {
      // Nothing reached the registry to check the target with: an empty body sent to a platform
      // or resource that does not exist is still a 404, not "0 imported".
      await importTarget(rpc, target);
    }
    totals.errors.sort((a, b) => a.line - b.line);
    const summary = {
      imported: totals.inserted + totals.updated + totals.unchanged,
      inserted: totals.inserted,
      updated: totals.updated,
      unchanged: totals.unchanged,
      failed: totals.failed,
      errors: totals.errors,
    };
    if (summary.failed > 0) {
      const first = totals.errors[0];
      throw new AppError(
        'import_incomplete',
        422,
        `${summary.failed} line(s) not imported (first: line ${first?.line}: ${first?.message}); the other ${summary.imported} were stored`,
        { details: summary },
      );
    }
    ctx.body = summary;
  });
  return router;
}
