import type { Knex } from 'knex';

const SCHEMA = 'registry';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).createTable('webhooks', (t) => {
    t.uuid('id').primary();
    t.text('url').notNullable();
    t.jsonb('events').notNullable();
    t.text('description');
    // Sealed with PSC_SECRET_KEY like platform credentials, bound to the webhook id.
    t.text('secret').notNullable();
    t.boolean('enabled').notNullable();
    t.text('disabled_reason');
    t.timestamp('disabled_at', { useTz: true });
    t.integer('consecutive_failures').notNullable().defaultTo(0);
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
  });
  await knex.schema.withSchema(SCHEMA).createTable('webhook_deliveries', (t) => {
    t.bigIncrements('seq');
    // The `webhook-id` header, the same on every attempt.
    t.text('id').notNullable().unique();
    t.uuid('webhook_id')
      .notNullable()
      .references('id')
      .inTable(`${SCHEMA}.webhooks`)
      .onDelete('CASCADE');
    // The event it came from: one delivery per subscription and event, however often it arrives.
    t.uuid('event_id').notNullable();
    t.text('event_type').notNullable();
    // The exact body sent, so every attempt signs the same bytes.
    t.text('body').notNullable();
    t.text('status').notNullable();
    t.integer('attempts').notNullable().defaultTo(0);
    t.timestamp('next_attempt_at', { useTz: true });
    t.jsonb('log').notNullable().defaultTo('[]');
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('finished_at', { useTz: true });
    t.unique(['webhook_id', 'event_id']);
    t.index(['webhook_id', 'seq']);
  });
  await knex.raw(
    `create index webhook_deliveries_due on ${SCHEMA}.webhook_deliveries (next_attempt_at) where status = 'pending'`,
  );
  await knex.raw(
    `create index webhook_deliveries_finished on ${SCHEMA}.webhook_deliveries (finished_at) where status <> 'pending'`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('webhook_deliveries');
  await knex.schema.withSchema(SCHEMA).dropTable('webhooks');
}
