import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Knex } from 'knex';
import { createDb, runMigrations } from '../src/index.ts';
import { FIRST, SECOND, both, firstOnly } from './fixtures/migrations.ts';
import { createTestDatabase, type TestDatabase } from './pg-test-db.ts';

/** Polls `probe` until it is true, failing after `ms`. */
async function until(probe: () => Promise<boolean>, what: string, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await probe())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function columns(knex: Knex, schema: string, table: string): Promise<string[]> {
  const rows: { column_name: string }[] = await knex('information_schema.columns')
    .where({ table_schema: schema, table_name: table })
    .orderBy('column_name')
    .select('column_name');
  return rows.map((r) => r.column_name);
}

describe('runMigrations', () => {
  let db: TestDatabase;
  const knexes: Knex[] = [];
  const open = (schema: string): Knex => {
    const knex = createDb({ url: db.url, schema, poolMax: 3 });
    knexes.push(knex);
    return knex;
  };

  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await Promise.all(knexes.map((k) => k.destroy()));
    await db?.drop();
  });

  it('when run latest, status, latest again and rollback, then each reports and changes the schema', async () => {
    const knex = open('svc_a');

    const fresh = await runMigrations(knex, {
      schema: 'svc_a',
      migrations: firstOnly,
      action: 'status',
    });
    assert.deepEqual(fresh, {
      action: 'status',
      schema: 'svc_a',
      applied: [],
      rolledBack: [],
      completed: [],
      pending: [FIRST],
      freedStaleLock: false,
    });

    const first = await runMigrations(knex, { schema: 'svc_a', migrations: firstOnly });
    assert.deepEqual(first.applied, [FIRST]);
    assert.deepEqual(await columns(knex, 'svc_a', 'widgets'), ['id', 'name']);
    assert.equal(await knex.schema.withSchema('public').hasTable('widgets'), false);

    const status = await runMigrations(knex, {
      schema: 'svc_a',
      migrations: both,
      action: 'status',
    });
    assert.deepEqual(status.completed, [FIRST]);
    assert.deepEqual(status.pending, [SECOND]);

    const second = await runMigrations(knex, {
      schema: 'svc_a',
      migrations: both,
      action: 'latest',
    });
    assert.deepEqual(second.applied, [SECOND]);
    assert.deepEqual(second.pending, []);
    assert.deepEqual(await columns(knex, 'svc_a', 'widgets'), ['colour', 'id', 'name']);

    const rollback = await runMigrations(knex, {
      schema: 'svc_a',
      migrations: both,
      action: 'rollback',
    });
    assert.deepEqual(rollback.rolledBack, [SECOND]);
    assert.deepEqual(rollback.completed, [FIRST]);
    assert.deepEqual(rollback.pending, [SECOND]);
    assert.deepEqual(await columns(knex, 'svc_a', 'widgets'), ['id', 'name']);

    const bookkeeping = await knex('information_schema.tables')
      .where({ table_schema: 'svc_a' })
      .orderBy('table_name')
      .pluck('table_name');
    assert.deepEqual(bookkeeping, ['knex_migrations', 'knex_migrations_lock', 'widgets']);
  });

  it('when several replicas migrate a new schema at once, then exactly one applies each migration', async () => {
    const replicas = [open('svc_b'), open('svc_b'), open('svc_b'), open('svc_b')];

    const reports = await Promise.all(
      replicas.map((knex) => runMigrations(knex, { schema: 'svc_b', migrations: both })),
    );

    assert.deepEqual(reports.flatMap((r) => r.applied).sort(), [FIRST, SECOND]);
    for (const report of reports) assert.deepEqual(report.pending, []);
    const [knex] = replicas;
    assert.ok(knex);
    const lockRows = await knex
      .withSchema('svc_b')
      .from('knex_migrations_lock')
      .select('is_locked');
    assert.deepEqual(lockRows, [{ is_locked: 0 }]);
    const recorded: unknown = await knex
      .withSchema('svc_b')
      .from('knex_migrations')
      .orderBy('name')
      .pluck('name');
    assert.deepEqual(recorded, [FIRST, SECOND]);
  });

  it("when a migrator died mid-run and left knex's lock set, then the next run frees it, says so and migrates", async () => {
    const knex = open('svc_c');
    await runMigrations(knex, { schema: 'svc_c', migrations: firstOnly });
    // What a migrator killed during a migration outside a transaction leaves: the lock row
    // committed as set, and nobody to clear it.
    await knex.withSchema('svc_c').table('knex_migrations_lock').update({ is_locked: 1 });

    const report = await runMigrations(knex, { schema: 'svc_c', migrations: both });

    assert.equal(report.freedStaleLock, true);
    assert.deepEqual(report.applied, [SECOND]);
    assert.deepEqual(report.pending, []);
    assert.deepEqual(
      await knex.withSchema('svc_c').from('knex_migrations_lock').select('is_locked'),
      [{ is_locked: 0 }],
    );
    const again = await runMigrations(knex, { schema: 'svc_c', migrations: both });
    assert.equal(again.freedStaleLock, false);
  });

  it('when another migrator of the schema is running, then a second waits for it, touches nothing meanwhile, and then migrates', async () => {
    const holder = open('svc_d');
    const knex = open('svc_d');
    // The other migrator: the schema's migration lock held on a connection of its own.
    await holder.transaction(async (held) => {
      await held.raw('select pg_advisory_lock(hashtext(?))', ['psc.migrations.svc_d']);
      const running = runMigrations(knex, { schema: 'svc_d', migrations: both });
      await until(async () => {
        // Outside the transaction: pg_stat_activity is read once per transaction.
        const { rows } = await holder.raw<{ rows: unknown[] }>(
          `select 1 from pg_stat_activity
            where datname = current_database() and pid <> pg_backend_pid()
              and query like 'select pg_try_advisory_lock%'`,
        );
        return rows.length > 0;
      }, 'the second migrator to ask for the lock');
      const { rows } = await held.raw<{ rows: unknown[] }>(
        "select 1 from pg_namespace where nspname = 'svc_d'",
      );
      assert.deepEqual(rows, [], 'nothing created while the lock is held');
      await held.raw('select pg_advisory_unlock(hashtext(?))', ['psc.migrations.svc_d']);
      const report = await running;
      assert.deepEqual(report.applied, [FIRST, SECOND]);
    });
  });
});
