import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { ConfigError } from '@psc/core';
import { openDatabase } from '../src/index.ts';
import { both } from './fixtures/migrations.ts';
import { closedPort, createTestDatabase, type TestDatabase } from './pg-test-db.ts';

describe('openDatabase', () => {
  let db: TestDatabase;
  before(async () => {
    db = await createTestDatabase();
  });
  after(async () => {
    await db?.drop();
  });

  it('when the database is reachable, then it returns knex on a migrated schema', async () => {
    const knex = await openDatabase({
      url: db.url,
      schema: 'svc_open',
      migrations: both,
      applicationName: 'psc-test',
    });
    try {
      await knex('widgets').insert({ name: 'gear', colour: 'red' });
      assert.deepEqual(await knex('widgets').select('name', 'colour'), [
        { name: 'gear', colour: 'red' },
      ]);
      const { rows } = await knex.raw<{ rows: { application_name: string }[] }>(
        'select application_name from pg_stat_activity where pid = pg_backend_pid()',
      );
      assert.equal(rows[0]?.application_name, 'psc-test');
    } finally {
      await knex.destroy();
    }
  });

  it('when the database is unreachable, then a one-line ConfigError naming DATABASE_URL, without the password', async () => {
    const port = await closedPort();
    await assert.rejects(
      openDatabase({
        url: `postgres://psc:hunter2@127.0.0.1:${port}/x`,
        schema: 's',
        migrations: both,
      }),
      (err) =>
        err instanceof ConfigError &&
        err.message ===
          `DATABASE_URL: database connection refused at 127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });
});
