import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { AppError } from '@psc/core';
import { openDatabase } from '../src/index.ts';
import { both } from './fixtures/migrations.ts';
import { closedPort, createTestDatabase, type TestDatabase } from './pg-test-db.ts';

const quiet = { warn: () => {}, error: () => {}, debug: () => {}, deprecate: () => {} };

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

  it('when the database is unreachable, then an AppError with the one-line reason', async () => {
    const port = await closedPort();
    await assert.rejects(
      openDatabase({
        url: `postgres://psc:hunter2@127.0.0.1:${port}/x`,
        schema: 's',
        migrations: both,
        log: quiet,
      }),
      (err) =>
        err instanceof AppError &&
        err.code === 'database_unavailable' &&
        err.message === `database connection refused at 127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });
});
