import Router from '@koa/router';
import type { Context } from 'koa';
import { z } from 'zod';
import {
  pageRequest,
  platformCreate,
  platformDelete,
  platformGet,
  platformList,
  platformPatch,
  platformPatchBody,
  platformReplace,
  platformTest,
  platformTestBody,
  platformTestResult,
} from '@psc/contracts';
import { AppError, BadRequestError, type Clock } from '@psc/core';
import type { RpcClient } from '@psc/messaging';
import type { AuditRepository } from '../../data-access/audit.repository.ts';
import { principalOf } from './auth.ts';
import {
  PLATFORM_ID,
  Platform,
  PlatformInput,
  PlatformPage,
  PlatformReplace,
  etagHeader,
  ifMatchHeader,
} from './api-schemas.ts';
import { operation, relay, route } from './operation.ts';

const platformListQuery = z.object({
  ...pageRequest,
  active: z
    .enum(['true', 'false'])
    .transform((v) => v === 'true')
    .optional(),
  tag: z.string().min(1).max(50).optional(),
});
const activeListQuery = platformListQuery.omit({ active: true });
const platformIdParams = z.object({
  id: z.uuid().meta({ description: 'Platform id', example: PLATFORM_ID }),
});
const testBody = platformTestBody
  .meta({ id: 'PlatformTestRequest', example: { resource: 'booths', params: {} } })
  .optional();

/** A platform test waits for the platform (up to its 120 s `timeoutMs`), not the usual RPC limit. */
const TEST_RPC_TIMEOUT_MS = 125_000;

const tag = 'platforms';
const platformResponse = (description: string) => ({
  description,
  schema: Platform,
  headers: etagHeader,
});

export const platformOperations = {
  create: operation({
    method: 'post',
    path: '/platforms',
    operationId: 'createPlatform',
    summary: 'Register a platform',
    description: 'JSONata expressions are compiled at once: a bad one is a 422 naming its path.',
    tag,
    role: 'admin',
    body: PlatformInput,
    responses: { 201: platformResponse('The platform, credentials masked') },
    errors: [409, 422],
  }),
  list: operation({
    method: 'get',
    path: '/platforms',
    operationId: 'listPlatforms',
    summary: 'List platforms, ordered by name (filters active, tag; cursor pagination)',
    tag,
    role: 'viewer',
    query: platformListQuery,
    responses: { 200: { description: 'A page of platforms', schema: PlatformPage } },
  }),
  listActive: operation({
    method: 'get',
    path: '/platforms/active',
    operationId: 'listActivePlatforms',
    summary: 'List active platforms',
    tag,
    role: 'viewer',
    query: activeListQuery,
    responses: { 200: { description: 'A page of active platforms', schema: PlatformPage } },
  }),
  get: operation({
    method: 'get',
    path: '/platforms/:id',
    operationId: 'getPlatform',
    summary: 'Read a platform (credentials masked)',
    tag,
    role: 'viewer',
    params: platformIdParams,
    responses: { 200: platformResponse('The platform') },
    errors: [404],
  }),
  replace: operation({
    method: 'put',
    path: '/platforms/:id',
    operationId: 'replacePlatform',
    summary: 'Replace a platform; a token left out or sent as *** is kept',
    tag,
    role: 'admin',
    params: platformIdParams,
    headers: ifMatchHeader,
    body: PlatformReplace,
    responses: { 200: platformResponse('The platform, version incremented') },
    errors: [404, 409, 412],
  }),
  patch: operation({
    method: 'patch',
    path: '/platforms/:id',
    operationId: 'patchPlatform',
    summary: 'Change a platform with a JSON merge patch (RFC 7396)',
    tag,
    role: 'admin',
    params: platformIdParams,
    headers: ifMatchHeader,
    body: platformPatchBody.meta({ id: 'PlatformMergePatch', example: { active: false } }),
    responses: { 200: platformResponse('The platform, version incremented') },
    errors: [404, 409, 412],
  }),
  delete: operation({
    method: 'delete',
    path: '/platforms/:id',
    operationId: 'deletePlatform',
    summary: 'Retire a platform (its schedules stop, queued jobs are cancelled)',
    tag,
    role: 'admin',
    params: platformIdParams,
    headers: ifMatchHeader,
    responses: { 204: { description: 'Retired' } },
    errors: [404, 412],
  }),
  test: operation({
    method: 'post',
    path: '/platforms/:id/test',
    operationId: 'testPlatform',
    summary: 'Send one real request to the platform: status, latency, item count',
    description:
      'Redirects are never followed (502 `redirect_blocked`); an upstream timeout is a 504, an unreachable platform a 503.',
    tag,
    role: 'admin',
    params: platformIdParams,
    body: testBody,
    responses: {
      200: {
        description: 'What the platform answered',
        schema: platformTestResult.meta({
          id: 'PlatformTestResult',
          example: { resource: 'booths', ok: true, status: 200, latencyMs: 84, itemCount: 12 },
        }),
      },
    },
    errors: [404, 502],
  }),
};

/** `If-Match: "3"` (or `W/"3"`, `3`) → 3; absent or `*` → no precondition. */
function ifMatch(ctx: Context): number | undefined {
  const header = ctx.get('If-Match').trim();
  if (header === '' || header === '*') return undefined;
  const m = /^(?:W\/)?"?(\d{1,9})"?$/.exec(header);
  if (!m?.[1]) throw new BadRequestError('If-Match must be a platform version, e.g. "3"');
  return Number(m[1]);
}

const etag = (ctx: Context, version: number): void => ctx.set('ETag', `"${version}"`);

/**
 * The registry checks a platform document and names a bad field by its place in it
 * (`resources[0].key`); the API names fields by their place in the request (`body.…`), as its own
 * schema checks do. The registry's refusals of a write are renamed so, so one 422 has one form.
 */
async function pathsInBody<T>(call: Promise<T>): Promise<T> {
  try {
    return await call;
  } catch (err) {
    if (!(err instanceof AppError) || err.status !== 422 || !Array.isArray(err.details)) throw err;
    const details = (err.details as unknown[]).map((d) => {
      const path = (d as { path?: unknown } | null)?.path;
      return typeof path === 'string'
        ? { ...(d as object), path: path ? `body.${path}` : 'body' }
        : d;
    });
    throw new AppError(err.code, err.status, err.message, { details, retryable: false });
  }
}

export function platformRoutes(
  rpc: RpcClient<'gateway'>,
  deps: { audit: AuditRepository; clock: Clock },
): Router {
  const router = new Router();
  const ops = platformOperations;
  const audit = (ctx: Context, action: string, targetId: string, details: object) =>
    deps.audit.append({
      at: deps.clock.now(),
      actorKeyId: principalOf(ctx).keyId,
      action,
      targetType: 'platform',
      targetId,
      details: details as Record<string, unknown>,
    });

  route(router, ops.create, async (ctx, { body }) => {
    const created = await pathsInBody(rpc.call(platformCreate, body));
    await audit(ctx, 'platform.created', created.id, { name: created.name, version: 1 });
    ctx.status = 201;
    ctx.set('Location', `/api/v1/platforms/${created.id}`);
    etag(ctx, created.version);
    ctx.body = created;
  });
  route(router, ops.list, (ctx, { query }) => relay(ctx, rpc.relay(platformList, query)));
  route(router, ops.listActive, (ctx, { query }) =>
    relay(ctx, rpc.relay(platformList, { ...query, active: true })),
  );
  route(router, ops.get, async (ctx, { params }) => {
    const platform = await rpc.call(platformGet, params);
    etag(ctx, platform.version);
    ctx.body = platform;
  });
  route(router, ops.replace, async (ctx, { params: { id }, body }) => {
    const { id: _id, version, createdAt: _c, updatedAt: _u, ...platform } = body;
    const expectedVersion = ifMatch(ctx) ?? version;
    const updated = await pathsInBody(
      rpc.call(platformReplace, {
        id,
        platform,
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
      }),
    );
    await audit(ctx, 'platform.replaced', id, { name: updated.name, version: updated.version });
    etag(ctx, updated.version);
    ctx.body = updated;
  });
  route(router, ops.patch, async (ctx, { params: { id }, body: patch }) => {
    const expectedVersion = ifMatch(ctx);
    const updated = await pathsInBody(
      rpc.call(platformPatch, {
        id,
        patch,
        ...(expectedVersion === undefined ? {} : { expectedVersion }),
      }),
    );
    await audit(ctx, 'platform.patched', id, {
      name: updated.name,
      version: updated.version,
      fields: Object.keys(patch),
    });
    etag(ctx, updated.version);
    ctx.body = updated;
  });
  route(router, ops.delete, async (ctx, { params: { id } }) => {
    const expectedVersion = ifMatch(ctx);
    const deleted = await rpc.call(platformDelete, {
      id,
      ...(expectedVersion === undefined ? {} : { expectedVersion }),
    });
    await audit(ctx, 'platform.deleted', id, { version: deleted.version });
    ctx.status = 204;
  });
  route(router, ops.test, async (ctx, { params: { id }, body }) => {
    const request = body ?? { params: {} };
    ctx.body = await rpc.call(platformTest, { id, ...request }, { timeoutMs: TEST_RPC_TIMEOUT_MS });
  });
  return router;
}
