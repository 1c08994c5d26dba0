import createClient, { type Client, type Middleware } from 'openapi-fetch';
import type { paths } from './schema.ts';

export type { components, operations, paths } from './schema.ts';

/** The typed client of psc's gateway: every path, parameter, body and answer of its document. */
export type ApiClient = Client<paths>;

export interface ApiClientOptions {
  /** The gateway, e.g. `http://127.0.0.1:8080`. */
  baseUrl: string;
  /** Sent as `X-API-Key` on every request; none when omitted. */
  apiKey?: string;
  /** Replaces global fetch (tests, proxies). */
  fetch?: (request: Request) => Promise<Response>;
}

/**
 * A client generated from the gateway's OpenAPI document (openapi-typescript types, openapi-fetch
 * calls): `client.GET('/api/v1/jobs/{id}', { params: { path: { id } } })` resolves with
 * `{ data, error, response }`, `data` typed as the operation's success body and `error` as the
 * error envelope. A change to the API that breaks a caller breaks its type check.
 */
export function createApiClient(options: ApiClientOptions): ApiClient {
  const client = createClient<paths>({
    baseUrl: options.baseUrl,
    ...(options.fetch ? { fetch: options.fetch } : {}),
  });
  const { apiKey } = options;
  if (apiKey) {
    const withKey: Middleware = {
      onRequest({ request }) {
        request.headers.set('x-api-key', apiKey);
        return request;
      },
    };
    client.use(withKey);
  }
  return client;
}

export {
  JOB_STATUSES,
  LOG_LEVELS,
  TASK_TYPES,
  WEBHOOK_EVENTS,
  type JobStatus,
  type LogLevel,
  type TaskType,
  type WebhookEvent,
} from './enums.ts';
export { fieldsText } from './fields-text.ts';
