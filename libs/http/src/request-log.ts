import type { Middleware } from 'koa';
import type { Registry } from 'prom-client';
import { currentTraceId, registerHistogram, type Logger } from '@psc/telemetry';

export interface RequestLogOptions {
  logger: Logger;
  registry: Registry;
  /** Logged at `debug` instead of `info` (probes and scrapes); default `/health /ready /metrics`. */
  quietPaths?: readonly string[];
}

const DEFAULT_QUIET_PATHS = ['/health', '/ready', '/metrics'];
const UNMATCHED_ROUTE = '(unmatched)';

/**
 * The router pattern (`/platforms/:id`) of the route that handled the request, never the raw path,
 * so ids stay out of labels. Read from `ctx.matched` because `_matchedRoute` is overwritten by
 * every router-level `use()` layer on the way.
 */
function routePattern(matched: unknown, method: string): string | undefined {
  if (!Array.isArray(matched)) return undefined;
  for (let i = matched.length - 1; i >= 0; i -= 1) {
    const layer: unknown = matched[i];
    if (layer === null || typeof layer !== 'object') continue;
    const methods: unknown = Reflect.get(layer, 'methods');
    const path: unknown = Reflect.get(layer, 'path');
    if (Array.isArray(methods) && methods.includes(method) && typeof path === 'string') return path;
  }
  return undefined;
}

/**
 * Logs one line per request when the response has been sent (or the client went away):
 * method, route (the matched router pattern when there is one, else the path), status,
 * durationMs, keyId (the API key's id, when a middleware set `ctx.state.keyId`) and traceId; never
 * bodies, headers or the query string. Also observes
 * `http_request_duration_seconds{method,route,status}` on `registry`.
 */
export function requestLog(options: RequestLogOptions): Middleware {
  const logger = options.logger;
  const quietPaths = new Set(options.quietPaths ?? DEFAULT_QUIET_PATHS);
  const duration = registerHistogram(options.registry, {
    name: 'http_request_duration_seconds',
    help: 'Time from request start to response end, by method, route pattern and status.',
    labelNames: ['method', 'route', 'status'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  });
  return async (ctx, next) => {
    const started = process.hrtime.bigint();
    const traceId = currentTraceId();
    ctx.res.once('close', () => {
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      const route = routePattern(ctx['matched'], ctx.method);
      const status = ctx.res.statusCode;
      const aborted = !ctx.res.writableFinished;
      duration.observe(
        { method: ctx.method, route: route ?? UNMATCHED_ROUTE, status: String(status) },
        seconds,
      );
      const line = {
        method: ctx.method,
        route: route ?? ctx.path,
        status,
        durationMs: Math.round(seconds * 1e4) / 10,
        ...(typeof ctx.state.keyId === 'string' ? { keyId: ctx.state.keyId } : {}),
        ...(traceId === null ? {} : { traceId }),
        ...(aborted ? { aborted } : {}),
      };
      const level = quietPaths.has(ctx.path) ? 'debug' : status >= 500 ? 'warn' : 'info';
      logger[level](line, 'request');
    });
    await next();
  };
}
