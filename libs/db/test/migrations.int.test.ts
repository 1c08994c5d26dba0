import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Knex } from 'knex';
import { createDb, runMigrations } from '../src/index.ts';
import { FIRST, SECOND, both, firstOnly } from './fixtures/migrations.ts';
import { createTestDatabase, type TestDatabase } from './pg-test-db.ts';

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
});
