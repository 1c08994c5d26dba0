import type { Context, Middleware } from 'koa';
import { RateLimiterRes, type RateLimiterPostgres } from 'rate-limiter-flexible';
import type { ApiRole } from '@psc/contracts';
import { AppError, UnavailableError, type Clock } from '@psc/core';
import type { Logger } from '@psc/telemetry';
import type { LeasedLimiter } from '../../data-access/leased-limiter.ts';
import { hashApiKey } from '../../domain/api-keys.ts';
import type { KeyDirectory } from '../../domain/key-directory.ts';

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

/**
 * Declares the least role a route needs: `viewer` reads, `operator` runs and controls, `admin`
 * changes platforms and keys. Every `/api/v1` route states one. The key itself was checked by
 * {@link authenticate}, which runs once per request before any route: 401 without a valid key,
 * 403 here when its role ranks below `role`.
 */
export function requireRole(role: Role): Middleware {
  return (ctx, next) => {
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
}

export interface AuthOptions {
  directory: KeyDirectory;
  /** Requests per key, shared by the replicas. */
  perKey: LeasedLimiter;
  /** Failed authentications per client address, shared by the replicas. */
  failures: RateLimiterPostgres;
  /** Records a key's use (at most once a minute per key and replica). */
  touch: (keyId: string, at: Date) => Promise<void>;
  clock: Clock;
  logger: Logger;
  /**
   * Paths under these prefixes need a key: the API, and the gateway's `/metrics` (the one service
   * facing clients does not hand its figures to anyone who asks).
   */
  prefixes: string[];
}

function tooMany(ctx: Context, msBeforeNext: number, what: string): AppError {
  const seconds = Math.max(1, Math.ceil(msBeforeNext / 1000));
  ctx.set('Retry-After', String(seconds));
  return new AppError('rate_limited', 429, `${what}; retry in ${seconds} s`, {
    details: { retryAfterSeconds: seconds },
  });
}

const MAX_TRACKED = 10_000;

/** The token of `Authorization: Bearer <token>`, or '' when the header is absent or another scheme. */
function bearer(header: string): string {
  const match = /^Bearer[ \t]+(\S{1,512})[ \t]*$/i.exec(header);
  return match?.[1] ?? '';
}

/**
 * Checks `X-API-Key` once per request under `prefix` and sets `ctx.state.keyId`/`role`.
 *
 * The key is looked up in the in-memory {@link KeyDirectory}; its per-minute limit is taken from
 * a lease of the shared counter (`data-access/leased-limiter.ts`): a valid request normally touches
 * neither PostgreSQL nor the broker. The key comes in `X-API-Key` or as `Authorization: Bearer`
 * (what Prometheus and most HTTP tools send). A failed authentication is counted in PostgreSQL,
 * shared by every replica; once an address is over its limit its failures are refused (429) from
 * this replica's memory until the shared window ends, without counting further. A valid key from
 * that address still works: behind a proxy (or a NAT) one address is many users, and a guesser
 * gains nothing from the 429 that a 401 would not have told it.
 */
export function authenticate(options: AuthOptions): Middleware {
  const { directory, perKey, failures, clock } = options;
  const blockedUntil = new Map<string, number>();
  const touched = new Map<string, number>();

  function blocked(ip: string, now: number): number {
    const until = blockedUntil.get(ip);
    if (until === undefined) return 0;
    if (until > now) return until - now;
    blockedUntil.delete(ip);
    return 0;
  }

  async function countFailure(ip: string): Promise<number> {
    try {
      await failures.consume(ip);
      return 0;
    } catch (err) {
      if (!(err instanceof RateLimiterRes))
        throw new UnavailableError('rate limiter store unavailable');
      if (blockedUntil.size >= MAX_TRACKED) {
        const now = Date.now();
        for (const [addr, until] of blockedUntil) if (until <= now) blockedUntil.delete(addr);
        // Still full: forget the oldest block; its next failure is counted (and refused) again.
        const oldest = blockedUntil.keys().next();
        if (blockedUntil.size >= MAX_TRACKED && !oldest.done) blockedUntil.delete(oldest.value);
      }
      blockedUntil.set(ip, Date.now() + err.msBeforeNext);
      return err.msBeforeNext;
    }
  }

  function touch(keyId: string): void {
    const now = clock.now().getTime();
    if ((touched.get(keyId) ?? 0) >= now - 60_000) return;
    if (touched.size >= MAX_TRACKED) touched.clear();
    touched.set(keyId, now);
    options
      .touch(keyId, new Date(now))
      .catch((err: unknown) =>
        options.logger.warn(
          { err: err instanceof Error ? err.message : String(err) },
          'cannot record key use',
        ),
      );
  }

  return async (ctx, next) => {
    if (
      !options.prefixes.some((prefix) => ctx.path.startsWith(prefix)) ||
      ctx.method === 'OPTIONS'
    ) {
      await next();
      return;
    }
    const ip = ctx.ip;
    const key = ctx.get('x-api-key') || bearer(ctx.get('authorization'));
    const found = key ? await directory.lookup(hashApiKey(key)) : undefined;
    if (!found) {
      const refused = blocked(ip, Date.now());
      if (refused > 0)
        throw tooMany(ctx, refused, 'too many failed authentications from this address');
      const over = await countFailure(ip);
      if (over > 0) throw tooMany(ctx, over, 'too many failed authentications from this address');
      throw new AppError(
        'unauthorized',
        401,
        key
          ? 'unknown API key'
          : 'missing API key: send it in X-API-Key (or Authorization: Bearer)',
      );
    }
    ctx.state.keyId = found.id;
    ctx.state.role = found.role;
    let limited;
    try {
      limited = await perKey.take(found.id);
    } catch {
      throw new UnavailableError('rate limiter store unavailable');
    }
    if (limited) throw tooMany(ctx, limited.msBeforeNext, 'rate limit of this API key reached');
    touch(found.id);
    await next();
  };
}
