import type { Knex } from 'knex';

const SCHEMA = 'collector';

export async function up(knex: Knex): Promise<void> {
  // One row per collect job; the fan-out barrier counts its children here.
  await knex.schema.withSchema(SCHEMA).createTable('collections', (t) => {
    t.uuid('job_id').primary();
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.jsonb('params').notNullable();
    t.text('status').notNullable();
    // The parent job's attempt that fanned out: its final job event must not look stale.
    t.integer('attempt').notNullable().defaultTo(1);
    t.integer('documents').notNullable().defaultTo(0);
    t.integer('children_total');
    t.integer('children_succeeded').notNullable().defaultTo(0);
    t.integer('children_failed').notNullable().defaultTo(0);
    t.timestamp('started_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true });
    t.index(['platform_id', 'resource', 'started_at']);
  });
  await knex.schema.withSchema(SCHEMA).createTable('children', (t) => {
    t.uuid('parent_job_id').notNullable().references('job_id').inTable(`${SCHEMA}.collections`);
    t.integer('index').notNullable();
    t.text('status').notNullable().defaultTo('pending');
    t.text('error');
    t.timestamp('finished_at', { useTz: true });
    t.primary(['parent_job_id', 'index']);
  });
  await knex.schema.withSchema(SCHEMA).createTable('documents', (t) => {
    t.bigIncrements('id').primary();
    t.uuid('job_id').notNullable();
    t.integer('child_index');
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.jsonb('params').notNullable();
    t.text('url').notNullable();
    t.timestamp('fetched_at', { useTz: true }).notNullable();
    t.jsonb('data').notNullable();
    t.index(['job_id', 'id']);
  });
  // Start/stop of a collector when the scheduler offers no per-resource control.
  await knex.schema.withSchema(SCHEMA).createTable('collector_settings', (t) => {
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.boolean('enabled').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['platform_id', 'resource']);
  });
  await knex.schema.withSchema(SCHEMA).createTable('log_entries', (t) => {
    // The event's envelope id: a redelivered entry is stored once.
    t.uuid('id').primary();
    t.timestamp('at', { useTz: true }).notNullable();
    t.smallint('level').notNullable();
    t.text('service').notNullable();
    t.uuid('platform_id');
    t.uuid('job_id');
    t.text('message').notNullable();
    t.jsonb('fields').notNullable().defaultTo('{}');
    t.text('trace_id');
    t.index(['at']);
    t.index(['job_id', 'at']);
  });
  await knex.schema.withSchema(SCHEMA).createTable('workers', (t) => {
    t.text('worker_id').primary();
    t.jsonb('heartbeat').notNullable();
    t.timestamp('last_seen_at', { useTz: true }).notNullable();
    t.timestamp('expires_at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'workers',
    'log_entries',
    'collector_settings',
    'documents',
    'children',
    'collections',
  ]) {
    await knex.schema.withSchema(SCHEMA).dropTable(table);
  }
}
