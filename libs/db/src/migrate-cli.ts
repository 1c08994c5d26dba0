import type { Knex } from 'knex';
import { ConfigError, databaseEnv, parseEnv } from '@psc/core';
import { createDb } from './create-db.ts';
import { describeDbError } from './describe-db-error.ts';
import { runMigrations, type MigrationAction, type MigrationReport } from './migrations.ts';

export interface MigrateCliOptions {
  /** Arguments after the script name; the first is the action. */
  argv: string[];
  /**
   * The process's environment: only `DATABASE_URL` is read, so a schema can be migrated without
   * the rest of its service's config (secret keys, broker).
   */
  env: Record<string, string | undefined>;
  schema: string;
  migrations: Record<string, Knex.Migration>;
  /** Receives every output line (usage, one line per migration, errors). */
  log: (line: string) => void;
}

const ACTIONS: readonly MigrationAction[] = ['latest', 'rollback', 'status'];
const USAGE = `usage: migrate <${ACTIONS.join('|')}>`;

function isAction(value: string | undefined): value is MigrationAction {
  return ACTIONS.some((action) => action === value);
}

function reportLines(report: MigrationReport): string[] {
  if (report.action === 'latest') {
    const lines = report.applied.map((name) => `applied     ${name}`);
    return lines.length > 0 ? lines : [`up to date (${report.completed.length} applied)`];
  }
  if (report.action === 'rollback') {
    const lines = report.rolledBack.map((name) => `rolled back ${name}`);
    return lines.length > 0 ? lines : ['nothing to roll back'];
  }
  return [
    ...report.completed.map((name) => `applied     ${name}`),
    ...report.pending.map((name) => `pending     ${name}`),
  ];
}

/**
 * The body of a service's `migrate` script: runs `latest | rollback | status` against the
 * service's schema, logs one line per migration and returns the process exit code
 * (0 ok, 1 failure described in one line, 2 usage).
 */
export async function runMigrateCli(options: MigrateCliOptions): Promise<number> {
  const action = options.argv[0];
  if (!isAction(action) || options.argv.length > 1) {
    options.log(USAGE);
    return 2;
  }
  let knex: Knex | undefined;
  try {
    knex = createDb({
      url: parseEnv(databaseEnv, options.env).DATABASE_URL,
      schema: options.schema,
      poolMax: 2,
      // Connection failures end as the one-line message below, not as knex's console warnings.
      log: { warn: () => {} },
    });
    const report = await runMigrations(knex, {
      schema: options.schema,
      migrations: options.migrations,
      action,
    });
    if (report.freedStaleLock) {
      options.log('freed the migration lock a migrator that died mid-run had left');
    }
    for (const line of reportLines(report)) options.log(line);
    return 0;
  } catch (err) {
    const cause = err instanceof ConfigError ? err.message : describeDbError(err);
    options.log(`migrate ${action} failed: ${cause}`);
    return 1;
  } finally {
    await knex?.destroy();
  }
}
