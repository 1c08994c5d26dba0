import { recordsList } from '@psc/contracts';
import { rpcHandler, type RpcHandler } from '@psc/messaging';
import type { RecordRepository } from '../../data-access/record.repository.ts';

const encode = (key: string): string => Buffer.from(key).toString('base64url');
const decode = (cursor: string): string => Buffer.from(cursor, 'base64url').toString();

export function recordRpcHandlers(records: RecordRepository): RpcHandler[] {
  return [
    rpcHandler(recordsList, async (query) => {
      const rows = await records.list({
        platformId: query.platformId,
        resource: query.resource,
        afterKey: query.cursor ? decode(query.cursor) : undefined,
        limit: query.limit + 1,
      });
      const items = rows.slice(0, query.limit);
      const last = items.at(-1);
      return { items, nextCursor: rows.length > query.limit && last ? encode(last.key) : null };
    }),
  ];
}
