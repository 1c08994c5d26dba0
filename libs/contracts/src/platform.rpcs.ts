import { z } from 'zod';
import { defineRpc } from './rpc.ts';
import { platform, platformInput } from './platform.ts';

const byId = z.object({ id: z.uuid() });
const expectedVersion = z.number().int().positive().optional();
const token = z.string().min(1).max(4_000);

/**
 * Credentials in a replacement: the token may be left out (or sent back masked as `***`) to
 * keep the stored one, since clients never see it.
 */
export const platformAuthUpdate = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: token.optional() }),
  z.strictObject({
    type: z.literal('header'),
    name: z.string().min(1).max(100),
    token: token.optional(),
  }),
  z.strictObject({
    type: z.literal('query'),
    name: z.string().min(1).max(100),
    token: token.optional(),
  }),
]);
export type PlatformAuthUpdate = z.infer<typeof platformAuthUpdate>;

/**
 * Body of `PUT /platforms/{id}`: a whole platform. What `GET` returned may be sent back as is:
 * `id`, `createdAt` and `updatedAt` are ignored, `version` counts as `If-Match`.
 */
export const platformReplaceBody = platformInput.extend({
  auth: platformAuthUpdate.default({ type: 'none' }),
  id: z.uuid().optional(),
  version: z.number().int().positive().optional(),
  createdAt: z.iso.datetime().optional(),
  updatedAt: z.iso.datetime().optional(),
});

/** Body of `PATCH /platforms/{id}`: an RFC 7396 JSON merge patch of the platform. */
export const platformPatchBody = z.record(z.string(), z.unknown());

export const platformReplace = defineRpc(
  'platform-registry',
  'platform.replace',
  z.object({
    id: z.uuid(),
    expectedVersion,
    platform: platformReplaceBody.omit({
      id: true,
      version: true,
      createdAt: true,
      updatedAt: true,
    }),
  }),
  platform,
);

export const platformPatch = defineRpc(
  'platform-registry',
  'platform.patch',
  z.object({ id: z.uuid(), expectedVersion, patch: platformPatchBody }),
  platform,
);

export const platformDelete = defineRpc(
  'platform-registry',
  'platform.delete',
  z.object({ id: z.uuid(), expectedVersion }),
  z.object({ id: z.uuid(), version: z.number().int().positive() }),
);

/** Body of `POST /platforms/{id}/test`: which resource to try (default: the first). */
export const platformTestBody = z.strictObject({
  resource: z.string().min(1).max(100).optional(),
  /** Values for `{{param}}` placeholders of a collect resource. */
  params: z.record(z.string().min(1).max(100), z.string().max(2_000)).default({}),
});

export const platformTestResult = z.object({
  resource: z.string(),
  /** 2xx and `successWhen` (when set) held. */
  ok: z.boolean(),
  status: z.number().int(),
  latencyMs: z.number().nonnegative(),
  /** Items `itemsPath` found in the response; null when it found no array. */
  itemCount: z.number().int().nonnegative().nullable(),
  /** Why `ok` is false, when it is. */
  problem: z.string().optional(),
});
export type PlatformTestResult = z.infer<typeof platformTestResult>;

/** One real request to the platform; upstream timeout → 504, unreachable → 503. */
export const platformTest = defineRpc(
  'platform-registry',
  'platform.test',
  byId.extend(platformTestBody.shape),
  platformTestResult,
);
