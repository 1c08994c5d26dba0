import type { Knex } from 'knex';

const SCHEMA = 'scheduler';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('jobs', (t) => {
    // Which leader enqueued a scheduled run, under which fencing token: tells an operator (and a
    // test) that nothing was written by a leader after it lost its lease.
    t.text('emitted_by');
    t.bigInteger('fencing_token');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('jobs', (t) => {
    t.dropColumn('emitted_by');
    t.dropColumn('fencing_token');
  });
}
