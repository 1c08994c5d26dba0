import type { Context, Middleware } from 'koa';
import type { Knex } from 'knex';
import { RateLimiterPostgres, RateLimiterRes } from 'rate-limiter-flexible';
import type { ApiRole } from '@psc/contracts';
import { AppError, UnavailableError, type Clock } from '@psc/core';
import type { ApiKeyRepository } from '../../data-access/api-key.repository.ts';
import { hashApiKey } from '../../domain/api-keys.ts';

export type Role = ApiRole;

const RANK: Record<Role, number> = { viewer: 0, operator: 1, admin: 2 };

/** Who is calling: set by {@link authenticate} on `ctx.state`. */
export interface Principal {
  keyId: string;
  role: Role;
}

export function principalOf(ctx: Pick<Context, 'state'>): Principal {
  const state = ctx.state as Partial<Principal>;
  if (typeof state.keyId !== 'string' || state.role === undefined) {
    throw new AppError('unauthorized', 401, 'missing or unknown API key (X-API-Key)');
  }
  return { keyId: state.keyId, role: state.role };
}

/** A role-checking middleware that also tells the OpenAPI generator the route's role. */
export type RoleMiddleware = Middleware & { readonly role: Role };

/**
 * Declares the least role a route needs: `viewer` reads, `operator` runs and controls, `admin`
 * changes platforms and keys. Every `/api/v1` route states one. The key itself was checked by
 * {@link authenticate}, which runs once per request before any route: 401 without a valid key,
 * 403 here when its role ranks below `role`.
 */
export function requireRole(role: Role): RoleMiddleware {
  const check: Middleware = (ctx, next) => {
    const principal = principalOf(ctx);
    if (RANK[principal.role] < RANK[role]) {
      throw new AppError(
        'forbidden',
        403,
        `this needs the ${role} role; the key has ${principal.role}`,
      );
    }
    return next();
  };
  return Object.assign(check, { role });
}

export interface AuthOptions {
  knex: Knex;
  keys: ApiKeyRepository;
  clock: Clock;
  /** Paths under this prefix need a key. */
  prefix: string;
  requestsPerMinute: number;
  authFailuresPerMinute: number;
}

function tooMany(ctx: Context, res: RateLimiterRes, what: string): AppError {
  const seconds = Math.max(1, Math.ceil(res.msBeforeNext / 1000));
  ctx.set('Retry-After', String(seconds));
  return new AppError('rate_limited', 429, `${what}; retry in ${seconds} s`, {
    details: { retryAfterSeconds: seconds },
  });
}

/**
 * Checks `X-API-Key` once per request under `prefix` and sets `ctx.state.keyId`/`role`.
 * Limits, shared by every replica through PostgreSQL: requests per key, and failed
 * authentications per client IP (an IP over its limit gets 429 even with a valid key).
 */
export function authenticate(options: AuthOptions): Middleware {
  const store = {
    storeClient: options.knex,
    storeType: 'knex',
    tableName: 'rate_limits',
    schemaName: 'gateway',
    tableCreated: true,
    duration: 60,
  };
  const perKey = new RateLimiterPostgres({
    ...store,
    keyPrefix: 'key',
    points: options.requestsPerMinute,
  });
  const failures = new RateLimiterPostgres({
    ...store,
    keyPrefix: 'authfail',
    points: options.authFailuresPerMinute,
  });
  const touched = new Map<string, number>();

  async function limit(limiter: RateLimiterPostgres, key: string): Promise<RateLimiterRes | null> {
    try {
      await limiter.consume(key);
      return null;
    } catch (err) {
      if (err instanceof RateLimiterRes) return err;
      throw new UnavailableError('rate limiter store unavailable');
    }
  }

  return async (ctx, next) => {
    if (!ctx.path.startsWith(options.prefix) || ctx.method === 'OPTIONS') {
      await next();
      return;
    }
    const ip = ctx.ip;
    const key = ctx.get('x-api-key');
    // Both reads at once: one round trip of waiting per request instead of two.
    const [blocked, found] = await Promise.all([
      failures.get(ip).catch(() => null),
      key ? options.keys.findByHash(hashApiKey(key)) : undefined,
    ]);
    if (blocked && blocked.remainingPoints <= 0) {
      throw tooMany(ctx, blocked, 'too many failed authentications from this address');
    }
    if (!found) {
      const over = await limit(failures, ip);
      if (over) throw tooMany(ctx, over, 'too many failed authentications from this address');
      throw new AppError(
        'unauthorized',
        401,
        key ? 'unknown API key' : 'missing API key: send it in X-API-Key',
      );
    }
    ctx.state.keyId = found.id;
    ctx.state.role = found.role;
    const over = await limit(perKey, found.id);
    if (over) throw tooMany(ctx, over, 'rate limit of this API key reached');
    const now = options.clock.now().getTime();
    if ((touched.get(found.id) ?? 0) < now - 60_000) {
      touched.set(found.id, now);
      await options.keys.touch(found.id, new Date(now));
    }
    await next();
  };
}
