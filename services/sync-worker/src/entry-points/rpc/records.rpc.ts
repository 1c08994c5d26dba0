import {
  recordCursor,
  recordsExport,
  recordsList,
  storedCollection,
  validationCursor,
  validationGet,
  validationList,
  type SealedPlatform,
} from '@psc/contracts';
import { NotFoundError } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { RecordRepository } from '../../data-access/record.repository.ts';
import { renderExportPage } from '../../domain/export-page.ts';
import type { ValidationRepository } from '../../data-access/validation.repository.ts';

function paged<T>(rows: T[], limit: number, cursorOf: (last: T) => string) {
  const items = rows.slice(0, limit);
  const last = items.at(-1);
  return { items, nextCursor: rows.length > limit && last ? cursorOf(last) : null };
}

export function recordRpcHandlers(deps: {
  records: RecordRepository;
  validations: ValidationRepository;
  /** The registry's platforms (cached): an empty page must mean "no records", not "no such thing". */
  platforms: { get(id: string): Promise<SealedPlatform> };
}): RpcHandler[] {
  return [
    rpcHandler(recordsList, async (q) => {
      // An unknown platform fails here with the registry's 404.
      const platform = await deps.platforms.get(q.platformId);
      if (!storedCollection(platform.resources, q.resource)) {
        throw new NotFoundError(`platform ${platform.name} has no resource ${q.resource}`);
      }
      const rows = await deps.records.list({
        platformId: q.platformId,
        resource: q.resource,
        parentKey: q.parentKey,
        includeDeleted: q.includeDeleted,
        filters: q.filters,
        after: recordCursor.decode(q.cursor),
        limit: q.limit + 1,
      });
      const page = paged(rows, q.limit, (r) =>
        recordCursor.encode({ parentKey: r.parentKey, key: r.key }),
      );
      return {
        ...page,
        items: page.items.map(({ parentKey, ...r }) => (parentKey ? { ...r, parentKey } : r)),
      };
    }),
    rpcHandler(recordsExport, async (q) => {
      const after = recordCursor.decode(q.cursor);
      const rows = await deps.records.exportRows({
        platformId: q.platformId,
        resource: q.resource,
        csvColumns: q.format === 'csv' ? q.columns : undefined,
        after,
        limit: q.limit + 1,
      });
      const page = renderExportPage(rows, {
        format: q.format,
        header: q.format === 'csv' && !after ? ['key', ...q.columns] : undefined,
        limit: q.limit,
      });
      return {
        text: page.text,
        count: page.count,
        nextCursor: page.last ? recordCursor.encode(page.last) : null,
      };
    }),
    rpcHandler(validationList, async (q) => {
      const rows = await deps.validations.list({
        platformId: q.platformId,
        resource: q.resource,
        before: validationCursor.decode(q.cursor),
        limit: q.limit + 1,
      });
      return paged(rows, q.limit, (r) => validationCursor.encode({ at: r.at, jobId: r.jobId }));
    }),
    rpcHandler(validationGet, async ({ jobId }) => {
      const report = await deps.validations.get(jobId);
      if (!report) throw new NotFoundError(`no validation report for job ${jobId}`);
      return report;
    }),
  ];
}
