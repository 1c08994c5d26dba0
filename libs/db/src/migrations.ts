import type { Knex } from 'knex';
import { delay } from '@psc/core';

/** What `runMigrations` can do. */
export type MigrationAction = 'latest' | 'rollback' | 'status';

export interface MigrationOptions {
  /** The service's schema: holds its tables and its `knex_migrations` bookkeeping. */
  schema: string;
  /** Migration modules keyed by file name, `.ts` suffix included (`20260101000000_init.ts`). */
  migrations: Record<string, Knex.Migration>;
  /** `latest` when omitted. */
  action?: MigrationAction;
  /** How long to wait for another migrator of the schema to finish; 10 min when omitted. */
  lockWaitMs?: number;
}

/** Outcome of a run; `completed` and `pending` describe the state after it. */
export interface MigrationReport {
  action: MigrationAction;
  schema: string;
  /** Applied by this run (`latest`), in order. */
  applied: string[];
  /** Undone by this run (`rollback`: the last batch), in order. */
  rolledBack: string[];
  completed: string[];
  pending: string[];
  /**
   * knex's lock row was set with no migrator running: one died mid-run (between the lock's
   * commit and its release) and this run freed it.
   */
  freedStaleLock: boolean;
}

const TABLE_NAME = 'knex_migrations';
const LOCK_TABLE_NAME = `${TABLE_NAME}_lock`;
/** Two replicas creating the same schema or table: the loser gets one of these. */
const CREATE_RACE_CODES = new Set(['42P06', '42P07', '23505']);
/**
 * How long to wait for a migrator without the schema's migration lock (knex's own CLI) to release
 * knex's lock, or before a statement that gave up waiting for a table's lock (the service's
 * `lock_timeout`: jobs of running replicas hold it) tries again. A DDL statement waiting in the lock queue would hold
 * up every statement on the table behind it; one that gives up and retries does not.
 */
const LOCK_RETRY_DELAYS_MS = [250, 500, 1_000, 2_000, 4_000, 8_000];
/** How often a migrator waiting for another one's run of the same schema asks again. */
const LOCK_POLL_MS = 250;
const DEFAULT_LOCK_WAIT_MS = 10 * 60_000;

function staticSource(migrations: Record<string, Knex.Migration>): Knex.MigrationSource<string> {
  return {
    getMigrations: () => Promise.resolve(Object.keys(migrations).sort()),
    getMigrationName: (name) => name,
    getMigration: (name) => {
      const migration = migrations[name];
      return migration
        ? Promise.resolve(migration)
        : Promise.reject(new Error(`unknown migration ${name}`));
    },
  };
}

function hasCode(err: unknown, codes: Set<string>): boolean {
  const code: unknown = err !== null && typeof err === 'object' ? Reflect.get(err, 'code') : null;
  return typeof code === 'string' && codes.has(code);
}

const LOCK_NOT_AVAILABLE = new Set(['55P03']);

function isLocked(err: unknown): boolean {
  return (
    (err instanceof Error && err.name === 'MigrationLocked') || hasCode(err, LOCK_NOT_AVAILABLE)
  );
}

/** The part of knex's (untyped) client that lends one connection of its pool. */
interface ConnectionLender {
  acquireConnection(): Promise<unknown>;
  releaseConnection(connection: unknown): Promise<unknown>;
}

/**
 * Runs `work` holding the schema's migration lock: a session-level advisory lock on a connection
 * of its own, so that only one psc migrator of a schema runs at a time and, should its process
 * die, PostgreSQL releases the lock with the connection. knex's own lock is a row it sets in a
 * committed statement and clears at the end: a migration that runs outside a transaction
 * (`CREATE INDEX CONCURRENTLY`) commits the row first, so a migrator killed mid-run left it set,
 * and every later start failed on "Migration table is already locked" until someone cleared it by
 * hand. Asked with `pg_try_advisory_lock` every {@link LOCK_POLL_MS}, not waited for: a wait would
 * end at the service's `lock_timeout`.
 */
async function underMigrationLock<T>(
  knex: Knex,
  schema: string,
  waitMs: number,
  work: () => Promise<T>,
): Promise<T> {
  const key = `psc.migrations.${schema}`;
  const client = knex.client as ConnectionLender;
  const connection = await client.acquireConnection();
  const onConnection = (sql: string) =>
    knex.raw<{ rows: { locked: boolean }[] }>(sql, [key]).connection(connection);
  try {
    const deadline = Date.now() + waitMs;
    while (
      !(await onConnection('select pg_try_advisory_lock(hashtext(?)) as locked')).rows[0]?.locked
    ) {
      if (Date.now() >= deadline) {
        throw new Error(
          `another migrator of schema ${schema} has run for over ${Math.round(waitMs / 1000)} s`,
        );
      }
      await delay(LOCK_POLL_MS);
    }
    try {
      return await work();
    } finally {
      await onConnection('select pg_advisory_unlock(hashtext(?)) as locked');
    }
  } finally {
    await client.releaseConnection(connection);
  }
}

/**
 * Creates the schema and knex's two bookkeeping tables (same shape knex would create), under the
 * migration lock: knex's own check-then-create is not atomic, and two replicas starting together
 * could both create the tables or both insert a lock row. Then frees knex's lock row if it is set:
 * no other psc migrator of the schema can be running now, so one that died left it. True if so.
 */
async function bootstrap(knex: Knex, schema: string): Promise<boolean> {
  return knex.transaction(async (trx) => {
    // Only when missing: creating a schema takes CREATE on the database, which a service's own
    // login (npm run db-roles: its schema made for it, nothing more) does not have.
    const { rows } = await trx.raw<{ rows: unknown[] }>(
      'select 1 from pg_namespace where nspname = ?',
      [schema],
    );
    if (rows.length === 0) await trx.raw('create schema if not exists ??', [schema]);
    const builder = (): Knex.SchemaBuilder => trx.schema.withSchema(schema);
    if (!(await builder().hasTable(TABLE_NAME))) {
      await builder().createTable(TABLE_NAME, (t) => {
        t.increments();
        t.string('name');
        t.integer('batch');
        t.timestamp('migration_time');
      });
    }
    if (!(await builder().hasTable(LOCK_TABLE_NAME))) {
      await builder().createTable(LOCK_TABLE_NAME, (t) => {
        t.increments('index').primary();
        t.integer('is_locked');
      });
    }
    const lockRow: unknown = await trx.withSchema(schema).from(LOCK_TABLE_NAME).first('is_locked');
    if (lockRow === undefined) {
      await trx.withSchema(schema).into(LOCK_TABLE_NAME).insert({ is_locked: 0 });
      return false;
    }
    const freed = await trx
      .withSchema(schema)
      .table(LOCK_TABLE_NAME)
      .where('is_locked', 1)
      .update({ is_locked: 0 });
    return freed > 0;
  });
}

async function withRetries<T>(run: () => Promise<T>): Promise<T> {
  for (let attempt = 0; ; attempt += 1) {
    try {
      return await run();
    } catch (err) {
      // Another migrator without our advisory lock (e.g. the knex CLI) may race the DDL: once.
      if (attempt === 0 && hasCode(err, CREATE_RACE_CODES)) continue;
      const wait = LOCK_RETRY_DELAYS_MS[attempt];
      if (isLocked(err) && wait !== undefined) {
        await delay(wait);
        continue;
      }
      throw err;
    }
  }
}

function nameOf(entry: unknown): string {
  if (typeof entry === 'string') return entry;
  if (entry !== null && typeof entry === 'object') {
    const name: unknown = Reflect.get(entry, 'name') ?? Reflect.get(entry, 'file');
    if (typeof name === 'string') return name;
  }
  return String(entry);
}

function logOf(result: unknown): string[] {
  const log: unknown = Array.isArray(result) ? result[1] : undefined;
  return Array.isArray(log) ? log.map(nameOf) : [];
}

/**
 * Runs a service's migrations inside its own schema (created when missing), bookkept in
 * `<schema>.knex_migrations`. Safe when several replicas start at once: the schema's migration
 * lock (see {@link underMigrationLock}) lets one run at a time, and the others then find nothing
 * left to apply. The lock takes one connection of `knex`'s pool for the whole run, so the pool
 * needs at least two.
 */
export async function runMigrations(
  knex: Knex,
  options: MigrationOptions,
): Promise<MigrationReport> {
  const action = options.action ?? 'latest';
  const config: Knex.MigratorConfig = {
    migrationSource: staticSource(options.migrations),
    schemaName: options.schema,
    tableName: TABLE_NAME,
  };
  let applied: string[] = [];
  let rolledBack: string[] = [];
  let freedStaleLock = false;
  await underMigrationLock(
    knex,
    options.schema,
    options.lockWaitMs ?? DEFAULT_LOCK_WAIT_MS,
    async () => {
      freedStaleLock = await withRetries(() => bootstrap(knex, options.schema));
      if (action === 'latest')
        applied = logOf(await withRetries(() => knex.migrate.latest(config)));
      if (action === 'rollback') {
        rolledBack = logOf(await withRetries(() => knex.migrate.rollback(config)));
      }
    },
  );
  const listed: unknown = await knex.migrate.list(config);
  const completed: unknown = Array.isArray(listed) ? listed[0] : undefined;
  const pending: unknown = Array.isArray(listed) ? listed[1] : undefined;
  return {
    action,
    schema: options.schema,
    applied,
    rolledBack,
    completed: Array.isArray(completed) ? completed.map(nameOf) : [],
    pending: Array.isArray(pending) ? pending.map(nameOf) : [],
    freedStaleLock,
  };
}
