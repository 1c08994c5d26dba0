import type { Middleware } from 'koa';

const HEADERS: Record<string, string> = {
  'X-Content-Type-Options': 'nosniff',
  'X-Frame-Options': 'DENY',
  'Referrer-Policy': 'no-referrer',
  'Content-Security-Policy': "default-src 'none'; frame-ancestors 'none'",
  'Cross-Origin-Resource-Policy': 'same-origin',
};

/**
 * Conservative headers for a JSON API that never serves HTML; `Cache-Control: no-store` unless a
 * handler sets its own.
 */
export function securityHeaders(): Middleware {
  return async (ctx, next) => {
    ctx.set(HEADERS);
    ctx.set('Cache-Control', 'no-store');
    await next();
  };
}
