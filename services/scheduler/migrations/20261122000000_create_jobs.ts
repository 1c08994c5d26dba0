import type { Knex } from 'knex';
import { createOutboxTable } from '@psc/messaging';

const SCHEMA = 'scheduler';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).createTable('jobs', (t) => {
    t.uuid('id').primary();
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.text('task_type').notNullable();
    t.text('status').notNullable();
    t.smallint('priority').notNullable();
    t.text('trigger').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.jsonb('params').notNullable().defaultTo('{}');
    t.jsonb('stats');
    t.jsonb('error');
    t.text('trace_id');
    // Position of the newest worker event applied: events older than it are ignored, so a
    // redelivered or out-of-order event never moves a job backwards.
    t.integer('progress_attempt').notNullable().defaultTo(0);
    t.smallint('progress_phase').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('started_at', { useTz: true });
    t.timestamp('finished_at', { useTz: true });
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.index(['platform_id', 'resource', 'task_type', 'created_at']);
    t.index(['status', 'created_at']);
  });
  await createOutboxTable(knex, SCHEMA);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('outbox');
  await knex.schema.withSchema(SCHEMA).dropTable('jobs');
}
