import assert from 'node:assert/strict';
import { after, before, beforeEach, describe, it } from 'node:test';
import type { Knex } from 'knex';
import { createDb, createRetention, type RetentionRule } from '../src/index.ts';
import { createTestDatabase, type TestDatabase } from './pg-test-db.ts';

const DAY = 86_400_000;

describe('retention: old rows purged in batches on every replica', () => {
  let db: TestDatabase;
  let knex: Knex;
  const logged: { message: string; fields: Record<string, unknown> }[] = [];
  const logger = {
    info: (fields: object, message: string) =>
      logged.push({ message, fields: fields as Record<string, unknown> }),
    warn: (fields: object, message: string) =>
      logged.push({ message, fields: fields as Record<string, unknown> }),
  };
  const runs: RetentionRule = {
    name: 'job runs',
    table: 'public.runs',
    column: 'finished_at',
    keepMs: 30 * DAY,
  };
  const jobs: RetentionRule = {
    name: 'finished jobs',
    table: 'public.jobs',
    column: 'finished_at',
    keepMs: 30 * DAY,
    only: `status <> 'running'`,
  };

  before(async () => {
    db = await createTestDatabase();
    knex = createDb({ url: db.url, schema: 'public', poolMax: 4 });
    await knex.raw('create table runs (id int primary key, finished_at timestamptz not null)');
    await knex.raw(
      'create table jobs (id int primary key, status text not null, finished_at timestamptz not null)',
    );
  });
  after(async () => {
    await knex?.destroy();
    await db?.drop();
  });
  beforeEach(async () => {
    logged.length = 0;
    await knex.raw('truncate runs, jobs');
  });

  /** `old` rows 40 days old and `recent` rows a day old, ids from 1. */
  const fill = async (old: number, recent: number) => {
    await knex.raw(
      `insert into runs select n, now() - case when n <= ? then interval '40 days' else interval '1 day' end
         from generate_series(1, ?) n`,
      [old, old + recent],
    );
  };
  const ids = async (table: string) =>
    (await knex.raw<{ rows: { id: number }[] }>(`select id from ${table} order by id`)).rows.map(
      (r) => r.id,
    );

  it('when rows are older than the rule keeps them, then they are deleted in batches and the recent ones stay', async () => {
    await fill(2_500, 10);
    const retention = createRetention({ knex, logger, rules: [runs], batch: 1_000 });
    assert.deepEqual(await retention.runOnce(), { 'job runs': 2_500 });
    assert.deepEqual(
      await ids('runs'),
      Array.from({ length: 10 }, (_, i) => 2_501 + i),
    );
    assert.deepEqual(
      logged.map((l) => [l.message, l.fields['rule'], l.fields['purged']]),
      [['old rows purged', 'job runs', 2_500]],
    );
    // Nothing old is left: a second run deletes and logs nothing.
    assert.deepEqual(await retention.runOnce(), { 'job runs': 0 });
    assert.equal(logged.length, 1);
  });

  it('when a rule says which rows may go, then old rows it excludes stay', async () => {
    await knex.raw(
      `insert into jobs values (1, 'succeeded', now() - interval '40 days'),
                               (2, 'running', now() - interval '40 days'),
                               (3, 'failed', now() - interval '2 days')`,
    );
    const retention = createRetention({ knex, logger, rules: [jobs] });
    assert.deepEqual(await retention.runOnce(), { 'finished jobs': 1 });
    assert.deepEqual(await ids('jobs'), [2, 3]);
  });

  it('when another session holds old rows, then the purge skips them without waiting and takes them on a later run', async () => {
    await fill(20, 0);
    const trx = await knex.transaction();
    try {
      await trx.raw('select id from runs where id <= 5 for update');
      const retention = createRetention({ knex, logger, rules: [runs], batch: 4 });
      assert.deepEqual(await retention.runOnce(), { 'job runs': 15 });
      assert.deepEqual(await ids('runs'), [1, 2, 3, 4, 5]);
    } finally {
      await trx.rollback();
    }
    const later = createRetention({ knex, logger, rules: [runs], batch: 4 });
    assert.deepEqual(await later.runOnce(), { 'job runs': 5 });
    assert.deepEqual(await ids('runs'), []);
  });

  it('when two replicas purge at once, then together they delete every old row exactly once', async () => {
    await fill(3_000, 5);
    const a = createRetention({ knex, logger, rules: [runs], batch: 200 });
    const b = createRetention({ knex, logger, rules: [runs], batch: 200 });
    const [ra, rb] = await Promise.all([a.runOnce(), b.runOnce()]);
    assert.equal(ra['job runs']! + rb['job runs']!, 3_000);
    assert.equal((await ids('runs')).length, 5);
  });

  it('when one rule fails, then it is logged and the other rules still run', async () => {
    await fill(3, 0);
    const missing: RetentionRule = { ...runs, name: 'missing', table: 'public.no_such_table' };
    const retention = createRetention({ knex, logger, rules: [missing, runs] });
    assert.deepEqual(await retention.runOnce(), { missing: 0, 'job runs': 3 });
    const warning = logged.find((l) => l.fields['rule'] === 'missing');
    assert.equal(warning?.message, 'retention purge failed; tried again next time');
    assert.match(String(warning?.fields['err']), /no_such_table/);
  });

  it('when started, then it purges on its own and stops cleanly', async () => {
    await fill(7, 1);
    const retention = createRetention({ knex, logger, rules: [runs], intervalMs: 50 });
    retention.start();
    try {
      const deadline = Date.now() + 10_000;
      while ((await ids('runs')).length > 1) {
        assert.ok(Date.now() < deadline, 'old rows purged by the timer within 10 s');
        await new Promise((resolve) => setTimeout(resolve, 20));
      }
    } finally {
      await retention.stop();
    }
    assert.deepEqual(await ids('runs'), [8]);
  });
});
