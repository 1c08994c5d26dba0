import Router from '@koa/router';
import { z } from 'zod';
import { API_ROLES, auditQuery } from '@psc/contracts';
import { BadRequestError } from '@psc/core';
import type { ApiKeyRepository } from '../../data-access/api-key.repository.ts';
import { parseAuditCursor, type AuditRepository } from '../../data-access/audit.repository.ts';
import type { ApiKeyService } from '../../domain/api-keys.ts';
import { ApiKeyCreate, ApiKeyCreated, ApiKeyPage, AuditPage } from './api-schemas.ts';
import { principalOf } from './auth.ts';
import { operation, route } from './operation.ts';

const apiKeyListQuery = z.object({
  cursor: z.uuid().optional(),
  limit: z.coerce.number().int().min(1).max(500).default(100),
});

const tag = 'api keys';

const WhoAmI = z.object({ keyId: z.uuid(), role: z.enum(API_ROLES) }).meta({
  id: 'WhoAmI',
  example: { keyId: '0b6f2c1e-8d4a-4f57-9b3e-2a1c5d7e9f10', role: 'viewer' },
});

export const apiKeyOperations = {
  me: operation({
    method: 'get',
    path: '/me',
    operationId: 'getMe',
    summary: 'The calling key: its id and role (what a client may offer its user)',
    tag,
    role: 'viewer',
    responses: { 200: { description: 'The key', schema: WhoAmI } },
  }),
  create: operation({
    method: 'post',
    path: '/api-keys',
    operationId: 'createApiKey',
    summary: 'Create an API key; the key is in this answer only',
    tag,
    role: 'admin',
    body: ApiKeyCreate,
    responses: { 201: { description: 'The key and its id', schema: ApiKeyCreated } },
  }),
  list: operation({
    method: 'get',
    path: '/api-keys',
    operationId: 'listApiKeys',
    summary: 'Live API keys: id, name, role, prefix (never the key)',
    tag,
    role: 'admin',
    query: apiKeyListQuery,
    responses: { 200: { description: 'A page of keys', schema: ApiKeyPage } },
  }),
  revoke: operation({
    method: 'delete',
    path: '/api-keys/:id',
    operationId: 'revokeApiKey',
    summary: 'Revoke an API key: every gateway replica refuses it within a second',
    tag,
    role: 'admin',
    params: z.object({ id: z.uuid().meta({ description: 'Key id' }) }),
    responses: { 204: { description: 'Revoked' } },
    errors: [404],
  }),
  audit: operation({
    method: 'get',
    path: '/audit',
    operationId: 'listAudit',
    summary:
      'Who (key id) changed what, by the time of the action, newest first; by target, action or key',
    tag,
    role: 'admin',
    query: auditQuery,
    responses: { 200: { description: 'A page of audit entries', schema: AuditPage } },
    errors: [400],
  }),
};

/** `/me` (any key), `/api-keys` (admin) and `/audit` (admin): the gateway's own resources, in its own schema. */
export function apiKeyRoutes(deps: {
  service: ApiKeyService;
  keys: ApiKeyRepository;
  audit: AuditRepository;
}): Router {
  const router = new Router();
  const ops = apiKeyOperations;
  route(router, ops.me, (ctx) => {
    ctx.body = principalOf(ctx);
  });
  route(router, ops.create, async (ctx, { body }) => {
    ctx.status = 201;
    ctx.body = await deps.service.create(principalOf(ctx).keyId, body);
  });
  route(router, ops.list, async (ctx, { query: q }) => {
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
  route(router, ops.revoke, async (ctx, { params: { id } }) => {
    await deps.service.revoke(principalOf(ctx).keyId, id);
    ctx.status = 204;
  });
  route(router, ops.audit, async (ctx, { query: q }) => {
    const cursor = q.cursor === undefined ? undefined : parseAuditCursor(q.cursor);
    if (q.cursor !== undefined && !cursor) {
      throw new BadRequestError('cursor must come from a previous page');
    }
    ctx.body = await deps.audit.list({
      limit: q.limit,
      ...(cursor ? { cursor } : {}),
      ...(q.targetId ? { targetId: q.targetId } : {}),
      ...(q.action ? { action: q.action } : {}),
      ...(q.actorKeyId ? { actorKeyId: q.actorKeyId } : {}),
    });
  });
  return router;
}
