import { z } from 'zod';
import { TASK_TYPES } from './topology.ts';
import { scheduleOverrides } from './schedule.ts';

/** JSONata source text; compiled and checked by the registry when a platform is saved. */
const jsonata = z.string().min(1).max(4_000);
const name = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, "-" and "_"');
const paramName = z.string().min(1).max(100);
const maxPages = z.number().int().min(1).max(100_000).default(1_000);

/** How a resource's pages are asked for and when they end. */
export const pagination = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('page'),
    pageParam: paramName.default('page'),
    sizeParam: paramName.default('size'),
    pageSize: z.number().int().min(1).max(10_000).default(100),
    startPage: z.number().int().min(0).default(1),
    /** JSONata over the response: total item count, to stop without an extra empty page. */
    totalPath: jsonata.optional(),
    maxPages,
  }),
  z.strictObject({
    type: z.literal('offset'),
    offsetParam: paramName.default('offset'),
    limitParam: paramName.default('limit'),
    limit: z.number().int().min(1).max(10_000).default(100),
    totalPath: jsonata.optional(),
    maxPages,
  }),
  z.strictObject({
    type: z.literal('cursor'),
    /** JSONata over the response giving the next token; missing or empty ends the data. */
    nextPath: jsonata,
    cursorParam: paramName.default('cursor'),
    limitParam: paramName.optional(),
    limit: z.number().int().min(1).max(10_000).optional(),
    maxPages,
  }),
  z.strictObject({
    /** RFC 8288 `Link: <…>; rel="next"`; the link must stay on the platform's origin. */
    type: z.literal('link'),
    sizeParam: paramName.optional(),
    pageSize: z.number().int().min(1).max(10_000).optional(),
    maxPages,
  }),
]);
export type Pagination = z.infer<typeof pagination>;

/**
 * `path` and `query` values may hold `{{param}}` placeholders filled from a job's params
 * (collect runs, e.g. `/races/{{date}}?meet={{meet}}`).
 */
export const resourceRequest = z.strictObject({
  method: z.enum(['GET', 'POST']).default('GET'),
  path: z.string().min(1).max(2_000).startsWith('/'),
  query: z.record(z.string(), z.string().max(2_000)).default({}),
  headers: z.record(z.string().min(1).max(100), z.string().max(2_000)).default({}),
  body: z.unknown().optional(),
});
export type ResourceRequest = z.infer<typeof resourceRequest>;

/** Seed 004's booth → menus: child records stored as `<resource>.<child>` with the parent key. */
export const childResource = z.strictObject({
  name,
  itemsPath: jsonata,
  key: jsonata,
  mapping: z.record(z.string().min(1).max(100), jsonata),
});
export type ChildResource = z.infer<typeof childResource>;

/** Two-stage collection (seed 003): stage 1 fetches an index, each entry becomes a child job. */
export const fanOut = z.strictObject({
  /** JSONata over the index response: an array of objects, each a child's params. */
  entriesPath: jsonata,
  /** The child's request; placeholders take the entry's fields. */
  request: resourceRequest,
  itemsPath: jsonata.optional(),
});
export type FanOut = z.infer<typeof fanOut>;

export const resourceDefinition = z.strictObject({
  name,
  tasks: z.array(z.enum(TASK_TYPES)).min(1).default(['sync']),
  request: resourceRequest,
  pagination: pagination.default({ type: 'none' }),
  itemsPath: jsonata,
  /** JSONata over `{ status, header?, body… }`-shaped response; false → the call failed. */
  successWhen: jsonata.optional(),
  /** JSONata over the response giving the platform's error message when successWhen fails. */
  errorMessagePath: jsonata.optional(),
  key: jsonata,
  mapping: z.record(z.string().min(1).max(100), jsonata),
  children: z.array(childResource).max(20).default([]),
  /** A full sync soft-deletes records that vanished from the platform. */
  deleteMissing: z.boolean().default(true),
  /** Incremental sync: high-water mark of a mapped field, sent in `param` on the next run. */
  cursor: z.strictObject({ field: z.string().min(1).max(100), param: paramName }).optional(),
  /** Validation that finds drift triggers a sync. */
  autoHeal: z.boolean().default(false),
  /**
   * Publish `records.changed` (which keys a sync inserted, updated or deleted) for followers
   * bound to `psc.events`. Off by default: an event nobody subscribes to costs every sync a
   * broker round trip and only fills `psc.unrouted-events`.
   */
  changeEvents: z.boolean().default(false),
  /** Collect resources: the params a run must provide, e.g. `["date", "meet"]`. */
  params: z.array(paramName).max(50).default([]),
  fanOut: fanOut.optional(),
  schedule: scheduleOverrides.optional(),
  /**
   * A response as the platform sends it (at most 16 KB as JSON): when the platform is saved,
   * every expression is dry-run on it within the expression budget, so one that fails or runs
   * away on real-looking data is refused then rather than when a job runs.
   */
  sample: z
    .unknown()
    .refine((value) => value !== undefined && (JSON.stringify(value)?.length ?? 0) <= 16_384, {
      message: 'must be JSON of at most 16384 characters',
    })
    .optional(),
});
export type ResourceDefinition = z.infer<typeof resourceDefinition>;

/**
 * The resource, or child collection (`<resource>.<child>`), whose records are stored under
 * `name`; undefined when the platform has none by that name.
 */
export function storedCollection(
  resources: readonly Pick<ResourceDefinition, 'name' | 'key' | 'mapping' | 'children'>[],
  name: string,
): Pick<ChildResource, 'key' | 'mapping'> | undefined {
  const top = resources.find((r) => r.name === name);
  if (top) return top;
  const dot = name.indexOf('.');
  if (dot < 0) return undefined;
  const parent = resources.find((r) => r.name === name.slice(0, dot));
  return parent?.children.find((c) => c.name === name.slice(dot + 1));
}

/** Credentials are write-only: accepted here, stored encrypted, never returned. */
export const platformAuth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: z.string().min(1).max(4_000) }),
  z.strictObject({
    type: z.literal('header'),
    name: z.string().min(1).max(100),
    token: z.string().min(1).max(4_000),
  }),
  z.strictObject({
    type: z.literal('query'),
    name: z.string().min(1).max(100),
    token: z.string().min(1).max(4_000),
  }),
]);
export type PlatformAuth = z.infer<typeof platformAuth>;

/** What API responses show of credentials. */
export const maskedAuth = z.strictObject({
  type: z.enum(['none', 'bearer', 'header', 'query']),
  name: z.string().optional(),
  token: z.literal('***').optional(),
});
export type MaskedAuth = z.infer<typeof maskedAuth>;

export const rateLimit = z.strictObject({
  requestsPerSecond: z.number().min(0.1).max(10_000),
  concurrency: z.number().int().min(1).max(1_000).default(4),
});

export const breakerSettings = z.strictObject({
  errorThresholdPercentage: z.number().int().min(1).max(100).default(50),
  volumeThreshold: z.number().int().min(1).max(10_000).default(5),
  resetTimeoutMs: z.number().int().min(100).max(3_600_000).default(30_000),
});

export const platformInput = z.strictObject({
  name,
  description: z.string().max(2_000).default(''),
  baseUrl: z.url({ protocol: /^https?$/ }).max(2_000),
  active: z.boolean().default(true),
  priority: z.number().int().min(1).max(9).default(5),
  tags: z.array(z.string().min(1).max(50)).max(50).default([]),
  auth: platformAuth.default({ type: 'none' }),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  /** Bytes a single response may have. */
  maxResponseBytes: z
    .number()
    .int()
    .min(1_024)
    .max(256 * 1024 * 1024)
    .default(16 * 1024 * 1024),
  rateLimit: rateLimit.optional(),
  breaker: breakerSettings.default({
    errorThresholdPercentage: 50,
    volumeThreshold: 5,
    resetTimeoutMs: 30_000,
  }),
  schedule: scheduleOverrides.optional(),
  resources: z.array(resourceDefinition).min(1).max(100),
});
export type PlatformInput = z.input<typeof platformInput>;

const platformMeta = {
  id: z.uuid(),
  version: z.number().int().positive(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
};

/** A platform as the API shows it: credentials masked. */
export const platform = platformInput.extend({ ...platformMeta, auth: maskedAuth });
export type Platform = z.infer<typeof platform>;

/**
 * A platform with its credentials in clear, as the registry and a worker hold it in memory right
 * before a call. It never travels: on the broker a credential is a {@link sealedSecret}.
 */
export const platformWithSecrets = platformInput.extend(platformMeta);
export type PlatformWithSecrets = z.infer<typeof platformWithSecrets>;

/**
 * A credential sealed for the sync-worker and the collector: AES-256-GCM under
 * `PSC_WORKER_SECRET_KEY`, bound to the platform and where its credential goes, as
 * `v1.<key id>.<iv>.<ciphertext>.<tag>` in base64url. Only a holder of that key can open it.
 */
export const sealedSecret = z
  .string()
  // A 4,000-character token is at most 12,000 bytes of UTF-8, 16,000 characters of base64url.
  .max(16_100)
  .regex(/^v1\.[\w-]{8}\.[\w-]{16}\.[\w-]+\.[\w-]{22}$/, 'must be a sealed credential')
  .brand<'SealedSecret'>();
export type SealedSecret = z.infer<typeof sealedSecret>;

/** {@link platformAuth} with the token sealed. */
export const sealedAuth = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({ type: z.literal('bearer'), token: sealedSecret }),
  z.strictObject({
    type: z.literal('header'),
    name: z.string().min(1).max(100),
    token: sealedSecret,
  }),
  z.strictObject({
    type: z.literal('query'),
    name: z.string().min(1).max(100),
    token: sealedSecret,
  }),
]);
export type SealedAuth = z.infer<typeof sealedAuth>;

/** What `platform.get-with-secrets` answers: the whole platform, its credential sealed. */
export const sealedPlatform = platformInput.extend({ ...platformMeta, auth: sealedAuth });
export type SealedPlatform = z.infer<typeof sealedPlatform>;
