import type { Knex } from 'knex';
import { createOutboxTable } from '@psc/messaging';

const SCHEMA = 'registry';

export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).createTable('platforms', (t) => {
    t.uuid('id').primary();
    t.text('name').notNullable();
    t.boolean('active').notNullable();
    t.integer('version').notNullable();
    t.jsonb('definition').notNullable();
    t.timestamp('created_at', { useTz: true }).notNullable();
    t.timestamp('updated_at', { useTz: true }).notNullable();
    t.timestamp('deleted_at', { useTz: true });
  });
  // Names are unique among live platforms; a deleted one frees its name.
  await knex.raw(
    `create unique index platforms_name_live on ${SCHEMA}.platforms (name) where deleted_at is null`,
  );
  await createOutboxTable(knex, SCHEMA);
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).dropTable('outbox');
  await knex.schema.withSchema(SCHEMA).dropTable('platforms');
}
