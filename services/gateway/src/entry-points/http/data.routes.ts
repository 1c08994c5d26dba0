import Router from '@koa/router';
import { z } from 'zod';
import { pageRequest, recordsList } from '@psc/contracts';
import { BadRequestError } from '@psc/core';
import { params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import { requireRole } from './auth.ts';

const dataParams = z.object({ platformId: z.uuid(), resource: z.string().min(1).max(200) });
const dataQuery = z.object({
  ...pageRequest,
  parentKey: z.string().max(500).optional(),
  includeDeleted: z.enum(['true', 'false']).optional(),
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

export function dataRoutes(rpc: RpcClient): Router {
  const router = new Router();
  router.get('/data/:platformId/:resource', requireRole('viewer'), async (ctx) => {
    const p = params(ctx, dataParams);
    const q = query(ctx, dataQuery);
    const filters = filtersOf(ctx.query);
    ctx.body = await rpc.call(recordsList, {
      ...p,
      cursor: q.cursor,
      limit: q.limit,
      ...(q.parentKey !== undefined ? { parentKey: q.parentKey } : {}),
      ...(q.includeDeleted === 'true' ? { includeDeleted: true } : {}),
      ...(filters ? { filters } : {}),
    });
  });
  return router;
}
