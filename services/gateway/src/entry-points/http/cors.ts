import type { Middleware } from 'koa';
import { AppError } from '@psc/core';

const ALLOW_HEADERS = 'X-API-Key, Content-Type, If-Match';
const EXPOSE_HEADERS = 'ETag, Retry-After';
const ALLOW_METHODS = 'GET, POST, PUT, PATCH, DELETE';

/**
 * CORS for the origins in PSC_CORS_ORIGINS only. Preflights are answered here, before the
 * API-key check (browsers send them without credentials); other origins get no CORS headers and
 * a 403 to their preflight.
 */
export function cors(origins: readonly string[]): Middleware {
  const allowed = new Set(origins.map((o) => new URL(o).origin));
  return async (ctx, next) => {
    const origin = ctx.get('Origin');
    if (!origin) {
      await next();
      return;
    }
    ctx.vary('Origin');
    const ok = allowed.has(origin);
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method')) {
      if (!ok) throw new AppError('cors_denied', 403, `origin ${origin} is not allowed`);
      ctx.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Allow-Methods': ALLOW_METHODS,
        'Access-Control-Allow-Headers': ALLOW_HEADERS,
        'Access-Control-Max-Age': '600',
      });
      ctx.status = 204;
      return;
    }
    if (ok) {
      ctx.set({
        'Access-Control-Allow-Origin': origin,
        'Access-Control-Expose-Headers': EXPOSE_HEADERS,
      });
    }
    await next();
  };
}
