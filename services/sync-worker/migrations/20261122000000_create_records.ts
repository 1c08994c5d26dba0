import type { Knex } from 'knex';
import { createOutboxTable } from '@psc/messaging';

const SCHEMA = 'sync';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).createTable('records', (t) => {
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.text('key').notNullable();
    t.jsonb('data').notNullable();
    // sha256 of the canonical mapped record: a record is rewritten only when this changes
    t.text('hash').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.timestamp('deleted_at', { useTz: true });
    t.primary(['platform_id', 'resource', 'key']);
  });
  // One row per finished job: a redelivered job message that already succeeded is acked as is.
  await knex.schema.withSchema(SCHEMA).createTable('job_runs', (t) => {
    t.uuid('job_id').primary();
    t.integer('attempt').notNullable();
    t.jsonb('stats').notNullable();
    t.timestamp('finished_at', { useTz: true }).notNullable();
  });
  await createOutboxTable(knex, SCHEMA);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('outbox');
  await knex.schema.withSchema(SCHEMA).dropTable('job_runs');
  await knex.schema.withSchema(SCHEMA).dropTable('records');
}
