import { z } from 'zod';
import {
  apiKeyCreateBody,
  apiKeyCreated,
  apiKeyView,
  auditEntry,
  job,
  page,
  platform,
  platformInput,
  platformReplaceBody,
  syncedRecord,
} from '@psc/contracts';

/*
 * The contract schemas as the OpenAPI document names them, with examples. `.meta()` returns a
 * copy, so the contracts are untouched; the routes validate with these copies, which accept and
 * produce exactly what the originals do.
 */

const PLATFORM_ID = '3f1e9a52-6c1d-4b7e-9a0f-2d5c8b1e7a44';
const JOB_ID = '8b2c4d6e-1f3a-4c5b-9d7e-0a1b2c3d4e5f';
const KEY_ID = '5a6b7c8d-9e0f-4a1b-8c2d-3e4f5a6b7c8d';
const AT = '2026-12-01T08:30:00.000Z';

const boothsResource = {
  name: 'booths',
  request: { path: '/booth/all' },
  pagination: { type: 'page', pageParam: 'page', sizeParam: 'size', pageSize: 10 },
  itemsPath: 'data',
  key: 'boothName',
  mapping: { name: 'boothName', allTable: 'boothAllTable' },
};

const platformInputExample = {
  name: 'booths-api',
  baseUrl: 'https://booths.example.net',
  tags: ['venues'],
  resources: [boothsResource],
};

const platformExample = platform.parse({
  ...platformInputExample,
  id: PLATFORM_ID,
  version: 3,
  createdAt: AT,
  updatedAt: AT,
  auth: { type: 'bearer', token: '***' },
  resources: [{ ...boothsResource, tasks: ['sync', 'validate'] }],
});

export const PlatformInput = platformInput.meta({
  id: 'PlatformInput',
  example: platformInputExample,
});
export const Platform = platform.meta({ id: 'Platform', example: platformExample });
export const PlatformReplace = platformReplaceBody.meta({
  id: 'PlatformReplace',
  example: { ...platformInputExample, version: 3, auth: { type: 'bearer', token: '***' } },
});
export const PlatformPage = page(Platform).meta({
  id: 'PlatformPage',
  example: { items: [platformExample], nextCursor: 'booths-api' },
});

const jobExample = job.parse({
  id: JOB_ID,
  platformId: PLATFORM_ID,
  resource: 'booths',
  taskType: 'sync',
  status: 'succeeded',
  priority: 9,
  trigger: 'api',
  run: 1,
  attempts: 1,
  nextAttemptAt: null,
  params: {},
  stats: { fetched: 12, inserted: 12, updated: 0, unchanged: 0 },
  error: null,
  traceId: null,
  createdAt: AT,
  startedAt: AT,
  finishedAt: AT,
  updatedAt: AT,
});
export const Job = job.meta({ id: 'Job', example: jobExample });
export const JobPage = page(Job).meta({
  id: 'JobPage',
  example: { items: [jobExample], nextCursor: null },
});

export const SyncedRecordPage = page(syncedRecord).meta({
  id: 'SyncedRecordPage',
  example: {
    items: [{ key: 'Booth 1', data: { name: 'Booth 1', allTable: 4 }, updatedAt: AT }],
    nextCursor: 'Qm9vdGggMQ',
  },
});

const keyExample = {
  id: KEY_ID,
  name: 'dashboards',
  role: 'viewer',
  prefix: 'psc_Zx9Qa1',
  createdAt: AT,
  createdBy: null,
  lastUsedAt: null,
} as const;
export const ApiKeyCreate = apiKeyCreateBody.meta({
  id: 'ApiKeyCreate',
  example: { name: 'dashboards', role: 'viewer' },
});
const ApiKey = apiKeyView.meta({ id: 'ApiKey', example: keyExample });
export const ApiKeyCreated = apiKeyCreated.meta({
  id: 'ApiKeyCreated',
  example: { ...keyExample, key: 'psc_Zx9Qa1bC3dE5fG7hJ9kL1mN3pQ5rS7tU9vW1xY3zA5b' },
});
export const ApiKeyPage = page(ApiKey).meta({ id: 'ApiKeyPage' });
export const AuditPage = page(auditEntry).meta({
  id: 'AuditPage',
  example: {
    items: [
      {
        id: '42',
        at: AT,
        actorKeyId: KEY_ID,
        action: 'platform.patched',
        targetType: 'platform',
        targetId: PLATFORM_ID,
        details: { name: 'booths-api', version: 4, fields: ['active'] },
      },
    ],
    nextCursor: null,
  },
});

/** The body of every error response. */
export const ErrorEnvelope = z
  .object({
    error: z.object({
      code: z.string().meta({ description: 'Stable machine-readable reason' }),
      message: z.string(),
      details: z.unknown().optional().meta({ description: 'What to fix, when there is a list' }),
      traceId: z.string().optional().meta({ description: 'Trace of the request, when traced' }),
    }),
  })
  .meta({
    id: 'Error',
    example: {
      error: {
        code: 'validation_failed',
        message: 'invalid params.id: Invalid UUID',
        details: [{ path: 'params.id', message: 'Invalid UUID' }],
      },
    },
  });

/** `If-Match: "3"`: the platform version a change expects. */
export const ifMatchHeader = z.object({
  'if-match': z
    .string()
    .optional()
    .meta({ description: 'Platform version the change expects (412 if stale)', example: '"3"' }),
});

/** `ETag: "3"`: the platform's version. */
export const etagHeader = z.object({
  etag: z.string().meta({ description: 'The platform version, quoted', example: '"3"' }),
});

export { JOB_ID, PLATFORM_ID };
