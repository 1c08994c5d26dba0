import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Knex } from 'knex';
import { createDb, numbered, runPrepared, transactionWith } from '../src/index.ts';
import { ADMIN_URL } from './pg-test-db.ts';

describe('hot-path statements: transactionWith and runPrepared', () => {
  let knex: Knex;
  before(async () => {
    // One connection, so a session's prepared statements and temp tables are the test's.
    knex = createDb({ url: ADMIN_URL, schema: 'public', poolMax: 1 });
    await knex.raw('create temp table hot_path_items (n int)');
  });
  after(async () => {
    await knex?.destroy();
  });

  const show = async (q: Knex | Knex.Transaction) =>
    (await q.raw<{ rows: { lock_timeout: string }[] }>('show lock_timeout')).rows[0]!.lock_timeout;

  it('when a transaction begins with set local bounds, then they hold inside it and end with it', async () => {
    const inside = await transactionWith(knex, 'set local lock_timeout = 1234', (trx) => show(trx));
    assert.equal(inside, '1234ms');
    assert.equal(await show(knex), '0');
  });

  it('when the work fails, then what it wrote rolls back with the transaction', async () => {
    await assert.rejects(
      transactionWith(knex, 'set local lock_timeout = 1000', async (trx) => {
        await trx.raw('insert into hot_path_items values (1)');
        throw new Error('work failed');
      }),
      /work failed/,
    );
    const { rows } = await knex.raw<{ rows: { n: number }[] }>(
      'select count(*)::int as n from hot_path_items',
    );
    assert.equal(rows[0]!.n, 0);
  });

  it('when a prepared statement runs again on its connection, then it is parsed once and answers each call', async () => {
    const statement = { name: 'hot_path.add', text: numbered('select ?::int + ?::int as n') };
    assert.equal(statement.text, 'select $1::int + $2::int as n');
    const sums = await knex.transaction(async (trx) => [
      await runPrepared<{ n: number }>(trx, statement, [40, 2]),
      await runPrepared<{ n: number }>(trx, statement, [1, 1]),
    ]);
    assert.deepEqual(sums, [[{ n: 42 }], [{ n: 2 }]]);
    const { rows } = await knex.raw<{ rows: { n: number }[] }>(
      `select count(*)::int as n from pg_prepared_statements where name = 'hot_path.add'`,
    );
    assert.equal(rows[0]!.n, 1);
  });
  it('when a prepared statement runs on the pool, then its connection goes back for the next query', async () => {
    const statement = { name: 'hot_path.one', text: 'select 1 as n' };
    // The pool has one connection: a second call, or a knex query, would wait for it forever.
    assert.deepEqual(await runPrepared<{ n: number }>(knex, statement, []), [{ n: 1 }]);
    assert.deepEqual(await runPrepared<{ n: number }>(knex, statement, []), [{ n: 1 }]);
    assert.equal(await show(knex), '0');
  });
});
