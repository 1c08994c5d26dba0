import { z } from 'zod';
import {
  createDocument,
  type ZodOpenApiOperationObject,
  type ZodOpenApiResponseObject,
} from 'zod-openapi';
import { ErrorEnvelope } from './api-schemas.ts';
import { apiKeyOperations } from './api-keys.routes.ts';
import { breakerOperations } from './breakers.routes.ts';
import { collectionOperations } from './collections.routes.ts';
import { collectorOperations } from './collectors.routes.ts';
import { dataOperations } from './data.routes.ts';
import { dataTransferOperations } from './data-transfer.routes.ts';
import { dlqOperations } from './dlq.routes.ts';
import { backfillOperations } from './backfills.routes.ts';
import { webhookOperations } from './webhooks.routes.ts';
import { docsOperations } from './docs.routes.ts';
import { jobOperations } from './jobs.routes.ts';
import { logOperations } from './logs.routes.ts';
import { monitoringOperations } from './monitoring.routes.ts';
import { outboxOperations } from './outbox.routes.ts';
import { platformControlOperations } from './platform-control.routes.ts';
import { platformOperations } from './platforms.routes.ts';
import { schedulerOperations } from './scheduler.routes.ts';
import { validationOperations } from './validations.routes.ts';
import { fullPath, operation, type Operation } from './operation.ts';

const Readiness = z
  .object({
    status: z.enum(['ready', 'unavailable']),
    checks: z.record(z.string(), z.string()),
  })
  .meta({
    id: 'Readiness',
    example: { status: 'ready', checks: { database: 'ok', broker: 'ok' } },
  });

/** The probes every psc service serves (mounted by @psc/http), as this API documents them. */
const probeOperations = {
  health: operation({
    method: 'get',
    path: '/health',
    prefix: '',
    operationId: 'getHealth',
    summary: 'Liveness: the process answers (no I/O)',
    tag: 'service',
    role: null,
    responses: {
      200: { description: 'Alive', schema: z.object({ status: z.literal('ok') }) },
    },
  }),
  ready: operation({
    method: 'get',
    path: '/ready',
    prefix: '',
    operationId: 'getReadiness',
    summary: 'Readiness: database and broker reachable',
    tag: 'service',
    role: null,
    responses: {
      200: { description: 'Ready', schema: Readiness },
      503: { description: 'A check failed; `checks` says which and why', schema: Readiness },
    },
  }),
  metrics: operation({
    method: 'get',
    path: '/metrics',
    prefix: '',
    operationId: 'getMetrics',
    summary: 'Prometheus metrics (text exposition format)',
    description:
      'The gateway faces clients, so its figures need a key like the API (Prometheus: `authorization: {credentials_file: …}` sends it as a Bearer token). The services behind it serve `/metrics` without one on their own ports.',
    tag: 'service',
    role: 'viewer',
    responses: { 200: { description: 'The metrics', content: { 'text/plain': z.string() } } },
  }),
};

/** Every operation the gateway serves, in the document's order. */
const OPERATIONS: readonly Operation[] = [
  platformOperations,
  platformControlOperations,
  breakerOperations,
  jobOperations,
  schedulerOperations,
  dataOperations,
  dataTransferOperations,
  validationOperations,
  dlqOperations,
  backfillOperations,
  webhookOperations,
  collectionOperations,
  collectorOperations,
  logOperations,
  monitoringOperations,
  outboxOperations,
  apiKeyOperations,
  docsOperations,
  probeOperations,
].flatMap((group) => Object.values(group) as Operation[]);

const TAGS: Record<string, string> = {
  platforms:
    'External platforms psc keeps in step with: definitions, credentials (write-only), tests',
  'platform sync': 'Per-platform scheduling control and the platform’s breaker',
  jobs: 'Run jobs now and read the job ledger',
  scheduler: 'The scheduler and the schedules of each task type',
  data: 'Synced records: list, export, import',
  validations: 'Drift reports of validate jobs',
  'dead letters': 'Jobs whose retries ran out or that failed for good',
  backfills: 'A task run over a past range, one job per step, with bounded concurrency',
  webhooks: 'Signed POSTs to your URLs when a job dies, drift is found, a breaker opens…',
  collections: 'Collect runs and the raw documents they fetched',
  collectors: 'Collector resources and their switches',
  monitoring: 'Queues, workers, breakers, logs and the pipeline’s verdict',
  'api keys': 'API keys and the audit log (admin)',
  service: 'Probes and this document; no API key needed',
};

const ERRORS: Record<number, string> = {
  400: 'Malformed request: body not JSON, or a bad cursor or filter',
  401: 'No X-API-Key, or an unknown or revoked one',
  403: 'The key’s role ranks below the operation’s',
  404: 'No such route, platform, resource or job',
  409: 'Conflicts with the current state (name taken, platform inactive, job finished…)',
  412: 'If-Match (or the body’s version) is not the platform’s version',
  413: 'Body over PSC_BODY_LIMIT_BYTES',
  415: 'Body not uncompressed UTF-8 application/json',
  422: 'Path, query or body fails its schema; `details` names each field',
  429: 'The key’s requests per minute, or the address’s failed authentications, are used up',
  500: 'Unexpected error (logged; the message is withheld)',
  502: 'The owning service or the platform answered something unusable',
  503: 'The owning service is not running, or RabbitMQ or PostgreSQL is unreachable',
  504: 'The owning service did not answer within PSC_RPC_TIMEOUT_MS',
};

const retryAfter = z.object({
  'retry-after': z.string().meta({ description: 'Seconds until the limit resets', example: '12' }),
});

/** The schema of path parameters (the object under a `.transform()`). */
function objectOf(schema: z.ZodType): z.ZodObject {
  if (schema instanceof z.ZodObject) return schema;
  if (schema instanceof z.ZodPipe) return objectOf(schema.in as z.ZodType);
  throw new Error('path and query parameters must be an object schema');
}

function errorStatuses(op: Operation): number[] {
  const statuses = new Set(op.errors ?? []);
  if (op.role !== null) {
    for (const s of [401, 403, 429, 500, 503]) statuses.add(s);
    if (op.tag !== 'api keys') statuses.add(504);
  }
  if (op.params || op.query || op.body) statuses.add(422);
  // The owner decodes a page cursor and refuses one it never handed out with a 400.
  if (op.query && 'cursor' in objectOf(op.query).shape) statuses.add(400);
  if (op.body) for (const s of [400, 413, 415]) statuses.add(s);
  return [...statuses].sort((a, b) => a - b);
}

function toOperation(op: Operation): ZodOpenApiOperationObject {
  const responses: Record<string, ZodOpenApiResponseObject> = {};
  for (const [status, spec] of Object.entries(op.responses)) {
    const content = spec.content ?? (spec.schema ? { 'application/json': spec.schema } : {});
    responses[status] = {
      description: spec.description,
      ...(Object.keys(content).length > 0
        ? {
            content: Object.fromEntries(
              Object.entries(content).map(([type, schema]) => [type, { schema }]),
            ),
          }
        : {}),
      ...(spec.headers ? { headers: spec.headers } : {}),
    };
  }
  for (const status of errorStatuses(op)) {
    responses[String(status)] ??= {
      description: ERRORS[status] ?? 'Error',
      content: { 'application/json': { schema: ErrorEnvelope } },
      ...(status === 429 ? { headers: retryAfter } : {}),
    };
  }
  const body = op.body;
  const rawBody = op.rawBody;
  return {
    operationId: op.operationId,
    summary: op.summary,
    description: [
      op.description,
      op.role ? `Needs the **${op.role}** role (viewer < operator < admin).` : 'No API key needed.',
    ]
      .filter(Boolean)
      .join('\n\n'),
    tags: [op.tag],
    ...(op.role ? { 'x-psc-role': op.role } : { security: [] }),
    requestParams: {
      ...(op.params ? { path: objectOf(op.params) } : {}),
      ...(op.query ? { query: objectOf(op.query) } : {}),
      ...(op.headers ? { header: op.headers } : {}),
    },
    ...(body
      ? {
          requestBody: {
            required: !body.safeParse(undefined).success,
            content: { 'application/json': { schema: body } },
          },
        }
      : {}),
    ...(rawBody
      ? {
          requestBody: {
            required: true,
            content: Object.fromEntries(
              Object.entries(rawBody).map(([type, schema]) => [type, { schema }]),
            ),
          },
        }
      : {}),
    responses,
  };
}

/** The OpenAPI 3.1 document of every operation, generated from their zod schemas. */
export function buildOpenApi(): object {
  const paths: Record<string, Record<string, ZodOpenApiOperationObject>> = {};
  for (const op of OPERATIONS) {
    const path = fullPath(op).replace(/:(\w+)/g, '{$1}');
    paths[path] ??= {};
    paths[path][op.method] = toOperation(op);
  }
  return createDocument({
    openapi: '3.1.0',
    info: {
      title: 'psc — Platform Sync Controller',
      version: '1',
      description:
        'Every /api/v1 operation needs an API key whose role ranks at least the operation’s (`x-psc-role`), in `X-API-Key` or as `Authorization: Bearer <key>`. Errors share one envelope (`Error`).',
      license: { name: 'Proprietary', identifier: 'LicenseRef-Proprietary' },
    },
    servers: [{ url: '/', description: 'This gateway' }],
    security: [{ apiKey: [] }, { bearer: [] }],
    tags: Object.entries(TAGS).map(([name, description]) => ({ name, description })),
    paths,
    components: {
      securitySchemes: {
        apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
        bearer: { type: 'http', scheme: 'bearer', description: 'The same API key' },
      },
    },
  });
}
