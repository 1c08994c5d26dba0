import type { Knex } from 'knex';
import { ConfigError } from '@psc/core';
import { createDb, type DbOptions } from './create-db.ts';
import { describeDbError } from './describe-db-error.ts';
import { runMigrations } from './migrations.ts';

interface KnexLogSink {
  debug(obj: object, msg: string): void;
  warn(obj: object, msg: string): void;
}

export interface OpenDatabaseOptions extends Omit<DbOptions, 'log'> {
  /** The service's migrations; brought to `latest` before the knex instance is returned. */
  migrations: Record<string, Knex.Migration>;
  /** Where knex's own messages go; connection errors are reported once by the caller instead. */
  logger?: KnexLogSink;
  /** The env var the URL came from, named in the start-up error. Default `DATABASE_URL`. */
  urlName?: string;
}

/**
 * Start-up helper for a service's `main.ts`: `createDb`, then `runMigrations(latest)` (safe with
 * several replicas). On failure the pool is destroyed and a one-line `ConfigError` naming the
 * env var is thrown (no password), so the service exits non-zero with that line.
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Knex> {
  const { migrations, logger, urlName = 'DATABASE_URL', ...dbOptions } = options;
  let knex: Knex | undefined;
  try {
    knex = createDb({
      ...dbOptions,
      log: {
        debug: (msg: unknown) => logger?.debug({ knex: String(msg) }, 'knex'),
        warn: (msg: unknown) => logger?.debug({ knex: String(msg) }, 'knex warning'),
        error: (msg: unknown) => logger?.warn({ knex: String(msg) }, 'knex error'),
        deprecate: () => undefined,
      },
    });
    const report = await runMigrations(knex, {
      schema: options.schema,
      migrations,
      action: 'latest',
    });
    if (report.freedStaleLock) {
      logger?.warn(
        { schema: options.schema },
        'freed the migration lock a migrator that died mid-run had left',
      );
    }
    return knex;
  } catch (err) {
    await knex?.destroy();
    throw new ConfigError(`${urlName}: ${describeDbError(err)}`, { cause: err });
  }
}
