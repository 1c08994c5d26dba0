import Router from '@koa/router';
import { z } from 'zod';
import { apiKeyCreateBody, auditQuery } from '@psc/contracts';
import { body, params, query } from '@psc/http';
import type { ApiKeyRepository } from '../../data-access/api-key.repository.ts';
import type { AuditRepository } from '../../data-access/audit.repository.ts';
import type { ApiKeyService } from '../../domain/api-keys.ts';
import { principalOf, requireRole } from './auth.ts';

export const apiKeyListQuery = z.object({
  cursor: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

/** `/api-keys` (admin) and `/audit` (admin): the gateway's own resources, in its own schema. */
export function apiKeyRoutes(deps: {
  service: ApiKeyService;
  keys: ApiKeyRepository;
  audit: AuditRepository;
}): Router {
  const router = new Router();
  router.post('/api-keys', requireRole('admin'), async (ctx) => {
    const input = body(ctx, apiKeyCreateBody);
    ctx.status = 201;
    ctx.body = await deps.service.create(principalOf(ctx).keyId, input);
  });
  router.get('/api-keys', requireRole('admin'), async (ctx) => {
    const q = query(ctx, apiKeyListQuery);
    const items = await deps.keys.list({
      limit: q.limit + 1,
      ...(q.cursor ? { afterId: q.cursor } : {}),
    });
    const page = items.slice(0, q.limit);
    ctx.body = {
      items: page,
      nextCursor: items.length > q.limit ? (page.at(-1)?.id ?? null) : null,
    };
  });
  router.delete('/api-keys/:id', requireRole('admin'), async (ctx) => {
    const { id } = params(ctx, z.object({ id: z.uuid() }));
    await deps.service.revoke(principalOf(ctx).keyId, id);
    ctx.status = 204;
  });
  router.get('/audit', requireRole('admin'), async (ctx) => {
    const q = query(ctx, auditQuery);
    if (q.cursor !== undefined && !/^\d+$/.test(q.cursor)) {
      ctx.throw(400, 'cursor must come from a previous page');
    }
    const items = await deps.audit.list({
      limit: q.limit + 1,
      ...(q.cursor ? { beforeId: q.cursor } : {}),
      ...(q.targetId ? { targetId: q.targetId } : {}),
    });
    const page = items.slice(0, q.limit);
    ctx.body = {
      items: page,
      nextCursor: items.length > q.limit ? (page.at(-1)?.id ?? null) : null,
    };
  });
  return router;
}
