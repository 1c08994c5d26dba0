import { randomBytes } from 'node:crypto';
import { createApiClient, type ApiClient, type paths } from '@psc/api-client';
import {
  createIsolatedEnv,
  spawnService,
  waitUntilStarted,
  type IsolatedEnv,
  type ServiceProcess,
} from '@psc/testing';
import { launchOf } from './launch.ts';

export const SERVICE_NAMES = [
  'platform-registry',
  'scheduler',
  'sync-worker',
  'collector',
  'gateway',
] as const;
export type ServiceName = (typeof SERVICE_NAMES)[number];

export interface RunningService {
  process: ServiceProcess;
  port: number;
  url: string;
}

/** `/api/v1/jobs/{id}` → `/api/v1/jobs/${string}`: the concrete paths a route answers. */
type Concrete<P extends string> = P extends `${infer Head}{${string}}${infer Tail}`
  ? `${Head}${string}${Concrete<Tail>}`
  : P;
/**
 * A path of the gateway's generated OpenAPI document, with parameters filled in and an optional
 * query string: a route that is renamed or removed fails the type check of every call to it.
 */
export type ApiPath = { [P in Extract<keyof paths, string>]: Concrete<P> }[Extract<
  keyof paths,
  string
>];
export type ApiPathWithQuery = ApiPath | `${ApiPath}?${string}`;

const GATEWAY_PLACEHOLDER = 'http://gateway.invalid';

interface ApiInit {
  method?: string;
  body?: unknown;
  /** Defaults to the bootstrap admin key; `null` sends no key. */
  apiKey?: string | null;
  headers?: Record<string, string>;
}

export interface System {
  env: IsolatedEnv;
  /** The bootstrap admin key (PSC_ADMIN_API_KEY) the system was started with. */
  adminKey: string;
  gatewayUrl: string;
  services: Map<ServiceName, RunningService>;
  /** The secrets `name` reads (its share of the system's keys), for processes started by hand. */
  secretsFor(name: ServiceName): Record<string, string>;
  /** Starts (or restarts) one service with the system's environment plus `extraEnv`. */
  start(name: ServiceName, extraEnv?: Record<string, string>): Promise<RunningService>;
  /** The generated, typed client of the gateway, with the bootstrap admin key. */
  client: ApiClient;
  /** The typed client with another key (`null`: none). */
  clientAs(apiKey: string | null): ApiClient;
  /**
   * One request for what the typed client cannot send: bodies that break the contract on
   * purpose, raw statuses. The path must still be one the document knows.
   */
  api<T = unknown>(
    path: ApiPathWithQuery,
    init?: ApiInit,
  ): Promise<{ status: number; body: T; headers: Headers }>;
  stop(): Promise<void>;
}

const QUIETER_THAN_INFO = new Set(['warn', 'error', 'fatal', 'silent']);

/** The secrets each service reads, as compose and the Kubernetes manifests hand them out. */
const SECRETS_READ: Record<ServiceName, readonly string[]> = {
  gateway: ['PSC_ADMIN_API_KEY'],
  'platform-registry': ['PSC_SECRET_KEY', 'PSC_WORKER_SECRET_KEY'],
  scheduler: [],
  'sync-worker': ['PSC_WORKER_SECRET_KEY'],
  collector: ['PSC_WORKER_SECRET_KEY'],
};

function secretsOf(name: ServiceName, secrets: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    SECRETS_READ[name].flatMap((k) => (secrets[k] ? [[k, secrets[k]]] : [])),
  );
}

/**
 * Starts psc's five services as separate processes, exactly as in production, on a fresh vhost
 * and database, and waits until each answers `/ready`.
 */
export async function startSystem(
  options: { name?: string; env?: Record<string, string>; services?: readonly ServiceName[] } = {},
): Promise<System> {
  const env = await createIsolatedEnv({ name: options.name ?? 'e2e' });
  const services = new Map<ServiceName, RunningService>();
  const adminKey = `psc_admin_${randomBytes(16).toString('hex')}`;
  const secrets: Record<string, string> = {
    PSC_ADMIN_API_KEY: adminKey,
    PSC_SECRET_KEY: randomBytes(32).toString('base64'),
    PSC_WORKER_SECRET_KEY: randomBytes(32).toString('base64'),
  };
  const baseEnv = {
    AMQP_URL: env.amqpUrl,
    DATABASE_URL: env.databaseUrl,
    LOG_LEVEL: 'info',
    PSC_EGRESS_ALLOW: '127.0.0.1,localhost',
    ...options.env,
  };

  async function start(
    name: ServiceName,
    extraEnv: Record<string, string> = {},
  ): Promise<RunningService> {
    const env: Record<string, string> = {
      ...secretsOf(name, secrets),
      ...baseEnv,
      // The OS picks the port and the service says which: see waitUntilStarted.
      HTTP_PORT: '0',
      OTEL_SERVICE_NAME: name,
      ...extraEnv,
    };
    // The start line that names the address is an info line: a quieter level would hide it.
    if (QUIETER_THAN_INFO.has(env.LOG_LEVEL ?? '')) env.LOG_LEVEL = 'info';
    const child = spawnService({ name, ...launchOf(name), env });
    const url = await waitUntilStarted(child);
    const running = { process: child, port: Number(new URL(url).port), url };
    services.set(name, running);
    return running;
  }

  try {
    await Promise.all((options.services ?? SERVICE_NAMES).map((name) => start(name)));
  } catch (err) {
    await Promise.all([...services.values()].map((s) => s.process.stop()));
    await env.cleanup();
    throw err;
  }

  const gatewayUrl = (): string => {
    const gateway = services.get('gateway');
    if (!gateway) throw new Error('gateway not started');
    return gateway.url;
  };

  const clientAs = (apiKey: string | null): ApiClient =>
    createApiClient({
      // The gateway's address is resolved per request: a test may restart it on another port.
      baseUrl: GATEWAY_PLACEHOLDER,
      fetch: (request: Request) => {
        const url = new URL(request.url);
        return fetch(new Request(`${gatewayUrl()}${url.pathname}${url.search}`, request));
      },
      ...(apiKey === null ? {} : { apiKey }),
    });

  return {
    env,
    adminKey,
    get gatewayUrl() {
      return gatewayUrl();
    },
    services,
    secretsFor: (name) => secretsOf(name, secrets),
    start,
    client: clientAs(adminKey),
    clientAs,
    async api<T>(path: ApiPathWithQuery, init: ApiInit = {}) {
      const key = init.apiKey === undefined ? adminKey : init.apiKey;
      const response = await fetch(`${gatewayUrl()}${path}`, {
        method: init.method ?? (init.body === undefined ? 'GET' : 'POST'),
        headers: {
          ...(init.body === undefined ? {} : { 'content-type': 'application/json' }),
          ...(key ? { 'x-api-key': key } : {}),
          ...init.headers,
        },
        ...(init.body === undefined ? {} : { body: JSON.stringify(init.body) }),
      });
      const text = await response.text();
      return {
        status: response.status,
        body: (text ? JSON.parse(text) : undefined) as T,
        headers: response.headers,
      };
    },
    async stop() {
      await Promise.all([...services.values()].map((s) => s.process.stop()));
      await env.cleanup();
    },
  };
}
