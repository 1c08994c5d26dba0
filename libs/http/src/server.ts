import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import Koa, { type Middleware, type Next, type ParameterizedContext } from 'koa';
import type { Registry } from 'prom-client';
import type { Logger } from '@psc/telemetry';
import { errorMiddleware } from './error-middleware.ts';
import { createHealthRouter, type ReadinessCheck } from './health.ts';
import { requestLog } from './request-log.ts';
import { securityHeaders as securityHeadersMiddleware } from './security-headers.ts';

/**
 * A Koa middleware compared bivariantly in its context, so a router typed with its own state or
 * context (`Router<AppState>`) still fits.
 */
export type RouterMiddlewareLike = {
  bivarianceHack(context: ParameterizedContext, next: Next): unknown;
}['bivarianceHack'];

/** What `createHttpServer` needs from a router: any `@koa/router` instance fits. */
export interface MountableRouter {
  routes(): RouterMiddlewareLike;
  allowedMethods(): RouterMiddlewareLike;
  /** The router's layers (`@koa/router`), read by {@link HttpServer.routes}. */
  stack?: readonly { path: string | RegExp; methods: readonly string[] }[];
}

/** One route a server answers: `GET /api/v1/platforms/:id`. */
export interface ServedRoute {
  method: string;
  path: string;
}

export interface HttpServerOptions {
  logger: Logger;
  /** Served at `/metrics`; the request histogram is registered on it. */
  registry: Registry;
  /** Named checks behind `/ready` (database, broker…). */
  readiness: Record<string, ReadinessCheck>;
  /** Mounted in order after the built-in routes, each with `allowedMethods()`. */
  routers?: MountableRouter[];
  /**
   * Mounted after the request log and before every route (health included), in order: for
   * concerns that must see requests no router matched, such as CORS preflights or API-key checks
   * on a whole prefix.
   */
  middleware?: Middleware[];
  /** 0 picks a free port; `start()` reports the real one. */
  port: number;
  /** Interface to bind; all interfaces when omitted. */
  host?: string;
  /** Adds nosniff/DENY/no-referrer/CSP/no-store headers; on unless `false`. */
  securityHeaders?: boolean;
  /**
   * Adds a `startup` readiness check that says `still starting` until `markReady()`: the server
   * listens first so `/health` answers, while `/ready` waits for consumers to be up.
   */
  startupGate?: boolean;
  /**
   * Reverse proxies in front of this server that append to `X-Forwarded-For`: with n > 0 the
   * client address (`ctx.ip`, used by per-address limits and logs) is the one the n-th proxy saw
   * instead of the proxy's own. 0 (default) ignores the header, which any client can forge.
   */
  trustedProxyHops?: number;
  /** Per-check limit for `/ready`; 2 s when omitted. */
  readinessTimeoutMs?: number;
  /** How long `stop()` lets in-flight requests finish before cutting sockets; 10 s by default. */
  stopGraceMs?: number;
}

/** Where a started server listens. */
export interface HttpAddress {
  port: number;
  url: string;
}

export interface HttpServer {
  app: Koa;
  /** Starts listening; resolves with the bound port (the real one when `port` was 0). */
  start(): Promise<HttpAddress>;
  /** Stops accepting, lets in-flight requests finish, closes keep-alive sockets. */
  stop(): Promise<void>;
  /** Opens the `startup` gate (see `startupGate`). */
  markReady(): void;
  /** Every method and path the mounted routers answer (probes included), HEAD left out. */
  routes(): ServedRoute[];
}

function urlHost(host: string | undefined): string {
  if (host === undefined || host === '' || host === '0.0.0.0' || host === '::') return '127.0.0.1';
  return host.includes(':') ? `[${host}]` : host;
}

/**
 * Builds the Koa app of a service: error envelope, security headers, request log, then
 * `/health`, `/ready`, `/metrics` and the given routers. Nothing listens until `start()`.
 */
export function createHttpServer(options: HttpServerOptions): HttpServer {
  const { logger } = options;
  const app = new Koa();
  if (options.trustedProxyHops) {
    app.proxy = true;
    app.maxIpsCount = options.trustedProxyHops;
  }
  let server: Server | undefined;
  let stopping = false;

  // Errors Koa itself reports (e.g. a response stream failing after headers were sent).
  app.on('error', (err: unknown) => logger.error({ err }, 'http server error'));

  app.use(errorMiddleware({ logger }));
  if (options.securityHeaders !== false) app.use(securityHeadersMiddleware());
  app.use(async (ctx, next) => {
    try {
      await next();
    } finally {
      // During stop(), in-flight responses tell keep-alive clients to go, so no socket lingers.
      if (stopping && !ctx.headerSent) ctx.set('Connection', 'close');
    }
  });
  app.use(requestLog({ logger, registry: options.registry }));
  for (const middleware of options.middleware ?? []) app.use(middleware);
  let ready = !options.startupGate;
  const startup: ReadinessCheck = () =>
    ready ? Promise.resolve() : Promise.reject(new Error('still starting'));
  const health = createHealthRouter({
    registry: options.registry,
    readiness: options.startupGate ? { startup, ...options.readiness } : options.readiness,
    ...(options.readinessTimeoutMs === undefined
      ? {}
      : { readinessTimeoutMs: options.readinessTimeoutMs }),
  });
  app.use(health.routes());
  app.use(health.allowedMethods());
  for (const router of options.routers ?? []) {
    app.use(router.routes());
    app.use(router.allowedMethods());
  }

  const mounted: MountableRouter[] = [health, ...(options.routers ?? [])];
  return {
    app,
    routes() {
      const seen = new Set<string>();
      const out: ServedRoute[] = [];
      for (const layer of mounted.flatMap((r) => r.stack ?? [])) {
        if (typeof layer.path !== 'string') continue;
        for (const method of layer.methods) {
          const key = `${method} ${layer.path}`;
          if (method === 'HEAD' || seen.has(key)) continue;
          seen.add(key);
          out.push({ method, path: layer.path });
        }
      }
      return out;
    },
    markReady() {
      ready = true;
    },
    async start() {
      if (server) throw new Error('http server already started');
      const handle = app.callback();
      // Koa's handler settles its own errors (onerror); nothing to await here.
      const listening = createServer((req, res) => void handle(req, res));
      // Idle keep-alive connections stay open longer than proxies and clients keep theirs (load
      // balancers commonly 60 s, Node's fetch 4 s): with Node's 5 s default a client reusing a
      // connection the server has just closed gets a reset instead of an answer.
      listening.keepAliveTimeout = 65_000;
      listening.headersTimeout = 66_000;
      await new Promise<void>((resolve, reject) => {
        listening.once('error', reject);
        listening.listen(options.port, options.host, () => {
          listening.off('error', reject);
          resolve();
        });
      });
      server = listening;
      stopping = false;
      const { port } = listening.address() as AddressInfo;
      return { port, url: `http://${urlHost(options.host)}:${port}` };
    },
    async stop() {
      const closing = server;
      if (!closing) return;
      server = undefined;
      stopping = true;
      const grace = setTimeout(() => closing.closeAllConnections(), options.stopGraceMs ?? 10_000);
      try {
        await new Promise<void>((resolve, reject) => {
          closing.close((err) => (err ? reject(err) : resolve()));
          closing.closeIdleConnections();
        });
      } finally {
        clearTimeout(grace);
      }
    },
  };
}
