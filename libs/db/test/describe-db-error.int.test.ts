import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkDb, createDb, describeDbError } from '../src/index.ts';
import { ADMIN_URL, closedPort, missingDatabaseUrl } from './pg-test-db.ts';

const quiet = { warn: () => {}, error: () => {}, debug: () => {}, deprecate: () => {} };

async function failureOf(url: string): Promise<unknown> {
  const knex = createDb({ url, schema: 'public', log: quiet });
  try {
    await checkDb(knex);
  } catch (err) {
    return err;
  } finally {
    await knex.destroy();
  }
  assert.fail('checkDb should have failed');
}

describe('checkDb and describeDbError', () => {
  it('when the database answers, then checkDb resolves', async () => {
    const knex = createDb({ url: ADMIN_URL, schema: 'public' });
    try {
      await checkDb(knex);
    } finally {
      await knex.destroy();
    }
  });

  it('when nothing listens on the port, then one line names the refused address', async () => {
    const port = await closedPort();
    const err = await failureOf(`postgres://psc:hunter2@127.0.0.1:${port}/psc`);
    assert.equal(
      describeDbError(err),
      `database connection refused at 127.0.0.1:${port} (ECONNREFUSED)`,
    );
  });

  it('when the database does not exist, then one line names it', async () => {
    const url = missingDatabaseUrl();
    const name = new URL(url).pathname.slice(1);
    const err = await failureOf(url);
    assert.equal(describeDbError(err), `database "${name}" does not exist (3D000)`);
  });
});
