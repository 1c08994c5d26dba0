import { z } from 'zod';
import {
  apiKeyCreateBody,
  apiKeyCreated,
  apiKeyView,
  auditEntry,
  auditQuery,
  page,
  platform,
  platformInput,
  platformPatchBody,
  platformReplaceBody,
  platformTestBody,
  platformTestResult,
} from '@psc/contracts';
import { apiKeyListQuery } from './api-keys.routes.ts';
import { platformListQuery } from './platforms.routes.ts';

/** What the generator knows about a route beyond its method, path and role. */
export interface RouteDoc {
  summary: string;
  body?: z.ZodType;
  query?: z.ZodObject;
  response?: z.ZodType;
  /** Success status; 200 by default. */
  status?: number;
  /** Headers the route reads (If-Match). */
  ifMatch?: boolean;
}

/** Named schemas, shown once under components and referenced by routes. */
const NAMED = new Map<z.ZodType, string>([
  [platformInput, 'PlatformInput'],
  [platform, 'Platform'],
  [platformReplaceBody, 'PlatformReplace'],
  [platformPatchBody, 'PlatformMergePatch'],
  [platformTestBody, 'PlatformTestRequest'],
  [platformTestResult, 'PlatformTestResult'],
  [apiKeyCreateBody, 'ApiKeyCreate'],
  [apiKeyView, 'ApiKey'],
  [apiKeyCreated, 'ApiKeyCreated'],
  [auditEntry, 'AuditEntry'],
]);

const platformPage = page(platform);
NAMED.set(platformPage, 'PlatformPage');
const keyPage = page(apiKeyView);
NAMED.set(keyPage, 'ApiKeyPage');
const auditPage = page(auditEntry);
NAMED.set(auditPage, 'AuditPage');

/**
 * Docs of the routes this file knows. Routes of other areas are still listed (from the routers
 * themselves, with their role); adding an entry here gives them bodies and summaries.
 */
export const routeDocs: Record<string, RouteDoc> = {
  'POST /api/v1/platforms': {
    summary: 'Register a platform',
    body: platformInput,
    response: platform,
    status: 201,
  },
  'GET /api/v1/platforms': {
    summary: 'List platforms (filters active, tag; cursor pagination)',
    query: platformListQuery,
    response: platformPage,
  },
  'GET /api/v1/platforms/active': {
    summary: 'List active platforms',
    query: platformListQuery,
    response: platformPage,
  },
  'GET /api/v1/platforms/:id': {
    summary: 'Read a platform (credentials masked)',
    response: platform,
  },
  'PUT /api/v1/platforms/:id': {
    summary: 'Replace a platform; a token left out or sent as *** is kept',
    body: platformReplaceBody,
    response: platform,
    ifMatch: true,
  },
  'PATCH /api/v1/platforms/:id': {
    summary: 'Change a platform with a JSON merge patch (RFC 7396)',
    body: platformPatchBody,
    response: platform,
    ifMatch: true,
  },
  'DELETE /api/v1/platforms/:id': {
    summary: 'Retire a platform (its schedules stop, queued jobs are cancelled)',
    status: 204,
    ifMatch: true,
  },
  'POST /api/v1/platforms/:id/test': {
    summary: 'Send one real request to the platform: status, latency, item count',
    body: platformTestBody,
    response: platformTestResult,
  },
  'POST /api/v1/api-keys': {
    summary: 'Create an API key (shown once)',
    body: apiKeyCreateBody,
    response: apiKeyCreated,
    status: 201,
  },
  'GET /api/v1/api-keys': { summary: 'List API keys', query: apiKeyListQuery, response: keyPage },
  'DELETE /api/v1/api-keys/:id': { summary: 'Revoke an API key', status: 204 },
  'GET /api/v1/audit': {
    summary: 'Audit log of platform and key changes, newest first',
    query: auditQuery,
    response: auditPage,
  },
};

interface LayerLike {
  path: string | RegExp;
  methods: string[];
  stack: unknown[];
}

const jsonSchema = (schema: z.ZodType, io: 'input' | 'output') => {
  const { $schema: _, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any' });
  return rest;
};

function schemaRef(
  schema: z.ZodType,
  io: 'input' | 'output',
  components: Record<string, unknown>,
): unknown {
  const name = NAMED.get(schema);
  if (!name) return jsonSchema(schema, io);
  components[name] ??= jsonSchema(schema, io);
  return { $ref: `#/components/schemas/${name}` };
}

const errorResponse = (description: string) => ({
  description,
  content: { 'application/json': { schema: { $ref: '#/components/schemas/Error' } } },
});

/**
 * OpenAPI 3.1 of every route the routers hold, built from their own layers (so routes added by
 * any area show up) and the zod schemas in {@link routeDocs}.
 */
export function buildOpenApi(routers: readonly { stack: readonly LayerLike[] }[]): object {
  const components: Record<string, unknown> = {
    Error: {
      type: 'object',
      required: ['error'],
      properties: {
        error: {
          type: 'object',
          required: ['code', 'message'],
          properties: {
            code: { type: 'string' },
            message: { type: 'string' },
            details: {},
            traceId: { type: 'string' },
          },
        },
      },
    },
  };
  const paths: Record<string, Record<string, unknown>> = {};
  for (const layer of routers.flatMap((r) => r.stack)) {
    if (typeof layer.path !== 'string' || layer.methods.length === 0) continue;
    const role = layer.stack
      .map((fn) => (fn as { role?: unknown }).role)
      .find((r): r is string => typeof r === 'string');
    const path = layer.path.replace(/:(\w+)/g, '{$1}');
    const pathParams = [...layer.path.matchAll(/:(\w+)/g)].map((m) => ({
      name: m[1],
      in: 'path',
      required: true,
      schema: { type: 'string' },
    }));
    for (const method of layer.methods.filter((m) => m !== 'HEAD')) {
      const doc = routeDocs[`${method} ${layer.path}`];
      const status = String(doc?.status ?? 200);
      const queryParams = Object.entries(doc?.query?.shape ?? {}).map(([name, schema]) => ({
        name,
        in: 'query',
        required: false,
        schema: jsonSchema(schema as z.ZodType, 'input'),
      }));
      paths[path] ??= {};
      paths[path][method.toLowerCase()] = {
        summary: doc?.summary ?? `${method} ${path}`,
        ...(role ? { description: `Needs the **${role}** role.`, 'x-psc-role': role } : {}),
        tags: [path.split('/')[3] ?? 'api'],
        parameters: [
          ...pathParams,
          ...queryParams,
          ...(doc?.ifMatch
            ? [{ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' } }]
            : []),
        ],
        ...(doc?.body
          ? {
              requestBody: {
                required: true,
                content: {
                  'application/json': { schema: schemaRef(doc.body, 'input', components) },
                },
              },
            }
          : {}),
        responses: {
          [status]: {
            description: 'success',
            ...(doc?.response
              ? {
                  content: {
                    'application/json': { schema: schemaRef(doc.response, 'output', components) },
                  },
                }
              : {}),
          },
          '401': errorResponse('missing or unknown API key'),
          '403': errorResponse('the key’s role may not do this'),
          '422': errorResponse('invalid request (details name each JSON path)'),
          '429': errorResponse('rate limited; see Retry-After'),
        },
      };
    }
  }
  return {
    openapi: '3.1.0',
    info: {
      title: 'psc — Platform Sync Controller',
      version: '1',
      description: 'Every /api/v1 route needs an X-API-Key header.',
    },
    servers: [{ url: '/' }],
    security: [{ apiKey: [] }],
    paths,
    components: {
      schemas: components,
      securitySchemes: { apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' } },
    },
  };
}
