import knexFactory, { type Knex } from 'knex';
import { ConfigError, TimeoutError } from '@psc/core';

export interface DbOptions {
  /** `postgres://user:password@host:port/database`. */
  url: string;
  /** The service's own schema; first on the `search_path`, before `public`. */
  schema: string;
  /** Pool size; 10 when omitted. The pool starts empty (min 0). */
  poolMax?: number;
  /** Shown in `pg_stat_activity.application_name`. */
  applicationName?: string;
  /**
   * How long any statement of the service waits for a lock before it fails with
   * `lock_not_available` (55P03); no limit when omitted. Set per connection, so it bounds
   * statements that run outside a transaction too.
   */
  lockTimeoutMs?: number;
  /** Where knex's own warnings go (e.g. "Acquire connection error"); console when omitted. */
  log?: Knex.Logger;
}

function assertPostgresUrl(url: string): void {
  let protocol: string;
  try {
    protocol = new URL(url).protocol;
  } catch {
    // Never echo the URL: it carries the password.
    throw new ConfigError('database URL is not a valid URL');
  }
  if (protocol !== 'postgres:' && protocol !== 'postgresql:') {
    throw new ConfigError(`database URL must start with postgres:// (got ${protocol}//)`);
  }
}

/**
 * Creates the knex instance of a service: pg client, `search_path` = [schema, public], a lazy pool
 * (min 0, max `poolMax`) and a 10 s limit on waiting for a connection. Nothing connects until the
 * first query. Throws `ConfigError` (one line, no password) for a URL that is not `postgres://`.
 */
export function createDb(options: DbOptions): Knex {
  assertPostgresUrl(options.url);
  return knexFactory({
    client: 'pg',
    connection: {
      connectionString: options.url,
      ...(options.applicationName === undefined
        ? {}
        : { application_name: options.applicationName }),
      ...(options.lockTimeoutMs === undefined
        ? {}
        : { lock_timeout: Math.ceil(options.lockTimeoutMs) }),
    },
    searchPath: [options.schema, 'public'],
    pool: { min: 0, max: options.poolMax ?? 10 },
    acquireConnectionTimeout: 10_000,
    ...(options.log === undefined ? {} : { log: options.log }),
  });
}

/**
 * Readiness probe: `select 1`, failing with a `TimeoutError` after `timeoutMs` (default 2 s)
 * even when no connection can be acquired.
 */
export async function checkDb(knex: Knex, options: { timeoutMs?: number } = {}): Promise<void> {
  const timeoutMs = options.timeoutMs ?? 2_000;
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () => reject(new TimeoutError(`database did not answer within ${timeoutMs} ms`)),
      timeoutMs,
    );
  });
  try {
    await Promise.race([knex.raw('select 1'), timeout]);
  } finally {
    clearTimeout(timer);
  }
}
