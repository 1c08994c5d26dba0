import type { Knex } from 'knex';
import { recordsImport, type SealedPlatform as Platform } from '@psc/contracts';
import { AppError, NotFoundError } from '@psc/core';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { MappedRecord, RecordRepository } from '../../data-access/record.repository.ts';
import { recordFromExportLine, recordFromUpstreamItem } from '../../domain/import-items.ts';
import { collapseDuplicates } from '../../domain/mapping.ts';

/**
 * Seed 001's JSON-file migration: upstream-shaped items go through the resource's own mapping
 * and the sync's upsert; an export's own lines (shape `records`) are stored as they are. An item
 * that does not fit is reported by line; the rest are stored.
 * Imports write no change events and no sync cursor: they are not a sync of the platform.
 */
export function importRpcHandlers(deps: {
  knex: Knex;
  records: RecordRepository;
  platforms: { get(id: string): Promise<Platform> };
}): RpcHandler[] {
  return [
    rpcHandler(recordsImport, async ({ platformId, resource: name, shape, items }) => {
      const platform = await deps.platforms.get(platformId);
      const resource = platform.resources.find((r) => r.name === name);
      if (!resource) throw new NotFoundError(`platform ${platform.name} has no resource ${name}`);
      const errors: { line: number; message: string }[] = [];
      const mapped: MappedRecord[] = [];
      for (const { line, item } of items) {
        try {
          mapped.push(
            shape === 'records'
              ? recordFromExportLine(item, resource)
              : await recordFromUpstreamItem(item, resource),
          );
        } catch (err) {
          errors.push({
            line,
            message: err instanceof AppError ? err.message : 'cannot be mapped',
          });
        }
      }
      const counts = await deps.knex.transaction((trx) =>
        deps.records.upsert(trx, platform.id, resource.name, collapseDuplicates(mapped)),
      );
      return {
        inserted: counts.inserted,
        updated: counts.updated,
        unchanged: counts.unchanged,
        errors,
      };
    }),
  ];
}
