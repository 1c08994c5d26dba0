import type { Knex } from 'knex';
import { AppError } from '@psc/core';
import { createDb, type DbOptions } from './create-db.ts';
import { describeDbError } from './describe-db-error.ts';
import { runMigrations } from './migrations.ts';

export interface OpenDatabaseOptions extends DbOptions {
  /** The service's migrations; brought to `latest` before the knex instance is returned. */
  migrations: Record<string, Knex.Migration>;
}

/**
 * Start-up helper for a service's `main.ts`: `createDb`, then `runMigrations(latest)` (safe with
 * several replicas). On failure the pool is destroyed and an `AppError` `database_unavailable`
 * is thrown whose message is the one-line {@link describeDbError} text (no password).
 */
export async function openDatabase(options: OpenDatabaseOptions): Promise<Knex> {
  let knex: Knex | undefined;
  try {
    const { migrations, ...dbOptions } = options;
    knex = createDb(dbOptions);
    await runMigrations(knex, { schema: options.schema, migrations, action: 'latest' });
    return knex;
  } catch (err) {
    await knex?.destroy();
    throw new AppError('database_unavailable', 503, describeDbError(err), { cause: err });
  }
}
