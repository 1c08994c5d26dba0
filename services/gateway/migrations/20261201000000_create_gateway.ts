import type { Knex } from 'knex';

const SCHEMA = 'gateway';

export async function up(knex: Knex): Promise<void> {
  // Keys are stored as SHA-256 of a 256-bit random key: a fast hash is enough for that entropy.
  await knex.schema.withSchema(SCHEMA).createTable('api_keys', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable();
    t.text('role').notNullable();
    t.text('key_hash').notNullable().unique();
    t.text('prefix').notNullable();
    t.boolean('bootstrap').notNullable().defaultTo(false);
    t.uuid('created_by');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('last_used_at', { useTz: true });
    t.timestamp('revoked_at', { useTz: true });
  });
  await knex.schema.withSchema(SCHEMA).createTable('audit_log', (t) => {
    t.bigIncrements('id').primary();
    t.timestamp('at', { useTz: true }).notNullable();
    t.uuid('actor_key_id').notNullable();
    t.text('action').notNullable();
    t.text('target_type').notNullable();
    t.text('target_id').notNullable();
    t.jsonb('details').notNullable().defaultTo('{}');
    t.index(['target_id']);
  });
  // rate-limiter-flexible's own layout (RateLimiterPostgres), shared by every gateway replica.
  await knex.schema.withSchema(SCHEMA).createTable('rate_limits', (t) => {
    t.string('key', 255).primary();
    t.integer('points').notNullable().defaultTo(0);
    t.bigInteger('expire');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('rate_limits');
  await knex.schema.withSchema(SCHEMA).dropTable('audit_log');
  await knex.schema.withSchema(SCHEMA).dropTable('api_keys');
}
