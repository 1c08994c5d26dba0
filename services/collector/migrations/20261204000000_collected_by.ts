import type { Knex } from 'knex';

const SCHEMA = 'collector';

export async function up(knex: Knex): Promise<void> {
  // Which replica fetched a document and ended a child: with stages scaled apart, operators see
  // how a fan-out's children spread over the stage-2 replicas.
  await knex.schema.withSchema(SCHEMA).alterTable('documents', (t) => {
    t.text('worker_id');
  });
  await knex.schema.withSchema(SCHEMA).alterTable('children', (t) => {
    t.text('worker_id');
  });
}

export async function down(knex: Knex): Promise<void> {
  await knex.schema.withSchema(SCHEMA).alterTable('children', (t) => t.dropColumn('worker_id'));
  await knex.schema.withSchema(SCHEMA).alterTable('documents', (t) => t.dropColumn('worker_id'));
}
