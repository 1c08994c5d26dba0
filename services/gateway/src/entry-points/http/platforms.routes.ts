import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import {
  pageRequest,
  platformCreate,
  platformDelete,
  platformGet,
  platformInput,
  platformList,
  platformPatch,
  platformPatchBody,
  platformReplace,
  platformReplaceBody,
  platformTest,
  platformTestBody,
} from '@psc/contracts';
import { BadRequestError, type Clock } from '@psc/core';
import { body, params, query } from '@psc/http';
import type { RpcClient } from '@psc/messaging';
import type { AuditRepository } from '../../data-access/audit.repository.ts';
import { principalOf, requireRole } from './auth.ts';

export const platformListQuery = z.object({
  ...pageRequest,
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  tag: z.string().min(1).max(50).optional(),
});
export const platformIdParams = z.object({ id: z.uuid() });

/** A platform test waits for the platform (up to its 120 s `timeoutMs`), not the usual RPC limit. */
const TEST_RPC_TIMEOUT_MS = 125_000;

/** `If-Match: "3"` (or `W/"3"`, `3`) → 3; absent or `*` → no precondition. */
function ifMatch(ctx: Context): number | undefined {
  const header = ctx.get('If-Match').trim();
  if (header === '' || header === '*') return undefined;
  const m = /^(?:W\/)?"?(\d{1,9})"?$/.exec(header);
  if (!m?.[1]) throw new BadRequestError('If-Match must be a platform version, e.g. "3"');
  return Number(m[1]);
}

const etag = (ctx: Context, version: number): void => ctx.set('ETag', `"${version}"`);

export function platformRoutes(
  rpc: RpcClient,
  deps: { audit: AuditRepository; clock: Clock },
): Router {
  const router = new Router();
  const audit = (ctx: Context, action: string, targetId: string, details: object) =>
    deps.audit.record({
      at: deps.clock.now(),
      actorKeyId: principalOf(ctx).keyId,
      action,
      targetType: 'platform',
      targetId,
      details: details as Record<string, unknown>,
    });

  router.post('/platforms', requireRole('admin'), async (ctx) => {
    const created = await rpc.call(platformCreate, body(ctx, platformInput));
    await audit(ctx, 'platform.created', created.id, { name: created.name, version: 1 });
    ctx.status = 201;
    ctx.set('Location', `/api/v1/platforms/${created.id}`);
    etag(ctx, created.version);
    ctx.body = created;
  });
  router.get('/platforms', requireRole('viewer'), async (ctx) => {
    ctx.body = await rpc.call(platformList, query(ctx, platformListQuery));
  });
  router.get('/platforms/active', requireRole('viewer'), async (ctx) => {
    const q = query(ctx, platformListQuery);
    ctx.body = await rpc.call(platformList, { ...q, active: true });
  });
  router.get('/platforms/:id', requireRole('viewer'), async (ctx) => {
    const platform = await rpc.call(platformGet, params(ctx, platformIdParams));
    etag(ctx, platform.version);
    ctx.body = platform;
  });
  router.put('/platforms/:id', requireRole('admin'), async (ctx) => {
    const { id } = params(ctx, platformIdParams);
    const {
      id: _id,
      version,
      createdAt: _c,
      updatedAt: _u,
      ...platform
    } = body(ctx, platformReplaceBody);
    const expectedVersion = ifMatch(ctx) ?? version;
    const updated = await rpc.call(platformReplace, {
      id,
      platform,
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
    });
    await audit(ctx, 'platform.replaced', id, { name: updated.name, version: updated.version });
    etag(ctx, updated.version);
    ctx.body = updated;
  });
  router.patch('/platforms/:id', requireRole('admin'), async (ctx) => {
    const { id } = params(ctx, platformIdParams);
    const patch = body(ctx, platformPatchBody);
    const expectedVersion = ifMatch(ctx);
    const updated = await rpc.call(platformPatch, {
      id,
      patch,
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
    });
    await audit(ctx, 'platform.patched', id, {
      name: updated.name,
      version: updated.version,
      fields: Object.keys(patch),
    });
    etag(ctx, updated.version);
    ctx.body = updated;
  });
  router.delete('/platforms/:id', requireRole('admin'), async (ctx) => {
    const { id } = params(ctx, platformIdParams);
    const expectedVersion = ifMatch(ctx);
    const deleted = await rpc.call(platformDelete, {
      id,
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
    });
    await audit(ctx, 'platform.deleted', id, { version: deleted.version });
    ctx.status = 204;
  });
  router.post('/platforms/:id/test', requireRole('admin'), async (ctx) => {
    const { id } = params(ctx, platformIdParams);
    const request = body(ctx, platformTestBody.optional().default({ params: {} }));
    ctx.body = await rpc.call(platformTest, { id, ...request }, { timeoutMs: TEST_RPC_TIMEOUT_MS });
  });
  return router;
}
