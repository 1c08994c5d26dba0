import Router from '@koa/router';
import { z } from 'zod';
import { pageRequest, recordsList } from '@psc/contracts';
import { BadRequestError } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import { PLATFORM_ID, SyncedRecordPage } from './api-schemas.ts';
import { operation, relay, route } from './operation.ts';

export const dataParams = z.object({
  platformId: z.uuid().meta({ description: 'Platform id', example: PLATFORM_ID }),
  resource: z
    .string()
    .min(1)
    .max(200)
    .meta({ description: '`<resource>`, or `<resource>.<child>` for a child collection' }),
});
const dataQuery = z.object({
  ...pageRequest,
  parentKey: z.string().max(500).optional().meta({ description: 'Children of this parent' }),
  includeDeleted: z
    .enum(['true', 'false'])
    .optional()
    .meta({ description: 'Also soft-deleted records (they carry `deletedAt`)' }),
});
const RESERVED = new Set(['cursor', 'limit', 'parentKey', 'includeDeleted']);
const FIELD = /^[A-Za-z_][A-Za-z0-9_]{0,99}$/;

/** Every other query parameter filters on a mapped field: `?canUsage=true&category=BOOTH`. */
function filtersOf(raw: Record<string, unknown>): Record<string, string> | undefined {
  const filters: Record<string, string> = {};
  for (const [name, value] of Object.entries(raw)) {
    if (RESERVED.has(name)) continue;
    if (!FIELD.test(name) || typeof value !== 'string' || value.length > 500) {
      throw new BadRequestError(`invalid filter ${name.slice(0, 100)}`, {
        field: name.slice(0, 100),
      });
    }
    filters[name] = value;
  }
  return Object.keys(filters).length > 0 ? filters : undefined;
}

export const dataOperations = {
  list: operation({
    method: 'get',
    path: '/data/:platformId/:resource',
    operationId: 'listRecords',
    summary: 'Synced records of a resource, ordered by key',
    description:
      'Any other query parameter filters on a mapped field by text equality, e.g. `?category=BOOTH&canUsage=true` (names: letters, digits, `_`; values ≤ 500 characters).',
    tag: 'data',
    role: 'viewer',
    params: dataParams,
    query: dataQuery,
    responses: { 200: { description: 'A page of records', schema: SyncedRecordPage } },
    errors: [400, 404],
  }),
};

export function dataRoutes(rpc: RpcClient<'gateway'>): Router {
  const router = new Router();
  route(router, dataOperations.list, (ctx, { params, query: q }) => {
    const filters = filtersOf(ctx.query);
    return relay(
      ctx,
      rpc.relay(recordsList, {
        ...params,
        cursor: q.cursor,
        limit: q.limit,
        ...(q.parentKey !== undefined ? { parentKey: q.parentKey } : {}),
        ...(q.includeDeleted === 'true' ? { includeDeleted: true } : {}),
        ...(filters ? { filters } : {}),
      }),
    );
  });
  return router;
}
