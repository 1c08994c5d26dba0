import type { Knex } from 'knex';

const SCHEMA = 'sync';

export async function up(knex: Knex): Promise<void> {
  // Child records (`<resource>.<child>`) are keyed within their parent: two booths may both sell
  // "Kimbap". Top-level records have parent_key ''.
  await knex.schema.withSchema(SCHEMA).alterTable('records', (t) => {
    t.text('parent_key').notNullable().defaultTo('');
  });
  await knex.raw(`alter table sync.records drop constraint records_pkey`);
  await knex.raw(
    `alter table sync.records add primary key (platform_id, resource, parent_key, key)`,
  );
  // Incremental sync: the high-water mark of a resource's cursor field.
  await knex.schema.withSchema(SCHEMA).createTable('cursors', (t) => {
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.text('value').notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable().defaultTo(knex.fn.now());
    t.primary(['platform_id', 'resource']);
  });
  await knex.schema.withSchema(SCHEMA).createTable('dead_letters', (t) => {
    t.text('id').primary(); // the message id, so a redelivered dead letter is stored once
    t.uuid('job_id').index();
    t.uuid('platform_id');
    t.text('resource');
    t.text('task_type');
    t.text('queue').notNullable();
    t.text('reason').notNullable();
    t.integer('attempts').notNullable();
    t.smallint('priority');
    t.jsonb('envelope'); // null for a body that is not JSON; `raw` keeps a prefix of it
    t.text('raw');
    t.timestamp('dead_at', { useTz: true }).notNullable();
  });
  await knex.schema.withSchema(SCHEMA).createTable('validations', (t) => {
    t.uuid('job_id').primary();
    t.uuid('platform_id').notNullable();
    t.text('resource').notNullable();
    t.boolean('drift').notNullable();
    t.jsonb('counts').notNullable();
    t.jsonb('report').notNullable();
    t.timestamp('at', { useTz: true }).notNullable();
    t.index(['platform_id', 'resource', 'at']);
  });
  await knex.schema.withSchema(SCHEMA).createTable('breaker_states', (t) => {
    t.uuid('platform_id').notNullable();
    t.text('worker_id').notNullable();
    t.text('state').notNullable();
    t.timestamp('changed_at', { useTz: true }).notNullable();
    t.primary(['platform_id', 'worker_id']);
  });
  await knex.schema.withSchema(SCHEMA).createTable('breaker_resets', (t) => {
    t.uuid('platform_id').primary();
    t.timestamp('reset_at', { useTz: true }).notNullable();
  });
  // Shared by all replicas: the next free request slot per platform (rate limit) ...
  await knex.schema.withSchema(SCHEMA).createTable('rate_limits', (t) => {
    t.uuid('platform_id').primary();
    t.timestamp('next_at', { useTz: true }).notNullable();
  });
  // ... and leased concurrency slots, which expire so a dead holder frees its slot.
  await knex.schema.withSchema(SCHEMA).createTable('platform_slots', (t) => {
    t.uuid('platform_id').notNullable();
    t.integer('slot').notNullable();
    t.timestamp('lease_until', { useTz: true }).notNullable();
    t.primary(['platform_id', 'slot']);
  });
  await knex.schema.withSchema(SCHEMA).createTable('cancelled_jobs', (t) => {
    t.uuid('job_id').primary();
    t.timestamp('at', { useTz: true }).notNullable();
  });
}

export async function down(knex: Knex): Promise<void> {
  for (const table of [
    'cancelled_jobs',
    'platform_slots',
    'rate_limits',
    'breaker_resets',
    'breaker_states',
    'validations',
    'dead_letters',
    'cursors',
  ]) {
    await knex.schema.withSchema(SCHEMA).dropTable(table);
  }
  await knex.raw(`alter table sync.records drop constraint records_pkey`);
  await knex.raw(`alter table sync.records add primary key (platform_id, resource, key)`);
  await knex.schema.withSchema(SCHEMA).alterTable('records', (t) => t.dropColumn('parent_key'));
}
