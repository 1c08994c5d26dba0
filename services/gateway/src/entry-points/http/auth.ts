import type { Middleware } from 'koa';

export type Role = 'viewer' | 'operator' | 'admin';

/**
 * Declares the least role a route needs: `viewer` reads, `operator` runs and controls, `admin`
 * changes platforms and keys. Every `/api/v1` route states one.
 *
 * Not enforced yet: API keys land with the platform-registry/security work, which replaces this
 * body with the key check; routes keep calling it the same way.
 */
export function requireRole(_role: Role): Middleware {
  return (_ctx, next) => next();
}
