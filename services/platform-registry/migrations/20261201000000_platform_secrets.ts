import type { Knex } from 'knex';

const SCHEMA = 'registry';

/** Credentials leave `definition` for an encrypted column (AES-256-GCM, see secret-box.ts). */
export async function up(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('platforms', (t) => {
    t.text('auth_secret');
  });
  await knex.raw(
    `create index platforms_tags on ${SCHEMA}.platforms using gin ((definition -> 'tags'))`,
  );
}

export async function down(knex: Knex): Promise<void> {
  await knex.raw(`drop index if exists ${SCHEMA}.platforms_tags`);
  await knex.schema.withSchema(SCHEMA).alterTable('platforms', (t) => {
    t.dropColumn('auth_secret');
  });
}
