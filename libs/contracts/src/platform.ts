import { z } from 'zod';
import { TASK_TYPES } from './topology.ts';

/** JSONata source text; compiled and checked by the owner when a platform is saved. */
const jsonata = z.string().min(1).max(2_000);
const name = z
  .string()
  .min(1)
  .max(100)
  .regex(/^[a-z0-9][a-z0-9_-]*$/, 'lowercase letters, digits, "-" and "_"');

export const pagination = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('none') }),
  z.strictObject({
    type: z.literal('page'),
    pageParam: z.string().min(1).default('page'),
    sizeParam: z.string().min(1).default('size'),
    pageSize: z.number().int().min(1).max(10_000).default(100),
    startPage: z.number().int().min(0).default(1),
    maxPages: z.number().int().min(1).max(100_000).default(1_000),
  }),
]);
export type Pagination = z.infer<typeof pagination>;

export const resourceRequest = z.strictObject({
  method: z.enum(['GET', 'POST']).default('GET'),
  path: z.string().min(1).max(2_000).startsWith('/'),
  query: z.record(z.string(), z.string()).default({}),
});

export const resourceDefinition = z.strictObject({
  name,
  tasks: z.array(z.enum(TASK_TYPES)).min(1).default(['sync']),
  request: resourceRequest,
  pagination: pagination.default({ type: 'none' }),
  itemsPath: jsonata,
  key: jsonata,
  mapping: z.record(z.string().min(1).max(100), jsonata),
});
export type ResourceDefinition = z.infer<typeof resourceDefinition>;

export const platformInput = z.strictObject({
  name,
  description: z.string().max(2_000).default(''),
  baseUrl: z.url({ protocol: /^https?$/ }).max(2_000),
  active: z.boolean().default(true),
  priority: z.number().int().min(1).max(9).default(5),
  tags: z.array(z.string().min(1).max(50)).max(50).default([]),
  timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
  resources: z.array(resourceDefinition).min(1).max(100),
});
export type PlatformInput = z.input<typeof platformInput>;

export const platform = platformInput.extend({
  id: z.uuid(),
  version: z.number().int().positive(),
  createdAt: z.iso.datetime(),
  updatedAt: z.iso.datetime(),
});
export type Platform = z.infer<typeof platform>;
